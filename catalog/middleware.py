from django.conf import settings
from django.utils import translation


class UserLanguageMiddleware:
    """A logged-in user's profile language wins over the browser's Accept-Language.

    Runs before LocaleMiddleware, which reads the language cookie: we set it on the
    request so the rest of Django's machinery stays standard. An explicit choice in the
    language switch (the cookie already present) is respected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cookie = settings.LANGUAGE_COOKIE_NAME
        if cookie not in request.COOKIES:
            user = getattr(request, "user", None)
            lang = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
            if lang and translation.check_for_language(lang):
                request.COOKIES[cookie] = lang
        return self.get_response(request)

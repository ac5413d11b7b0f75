from rest_framework.pagination import PageNumberPagination


class PageSizePagination(PageNumberPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 500


def paginated(request, view, queryset, serializer_class, **serializer_kwargs):
    """One page of `queryset` as the list endpoints answer it ({count, next, previous,
    results})."""
    paginator = PageSizePagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, **serializer_kwargs).data)


def choice_params(request, choices: dict) -> dict:
    """The query parameters named in `choices` ({name: TextChoices}); absent or empty ->
    None; a value outside its choices -> 400 naming every bad parameter."""
    from rest_framework.serializers import ValidationError

    values, errors = {}, {}
    for name, enum in choices.items():
        value = request.query_params.get(name) or None
        if value is not None and value not in enum.values:
            errors[name] = [f"one of {', '.join(enum.values)}"]
        values[name] = value
    if errors:
        raise ValidationError(errors)
    return values

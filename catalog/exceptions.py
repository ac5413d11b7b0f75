"""Domain errors. Services raise these; the API maps them to HTTP in one place
(catalog.api.exceptions) and the HTML views show their message."""


class ApplicationError(Exception):
    """A request the domain refuses (HTTP 400). `errors` maps field -> [reasons]."""

    status_code = 400

    def __init__(self, message: str, *, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ConflictError(ApplicationError):
    """The request is valid but clashes with the current state (HTTP 409)."""

    status_code = 409

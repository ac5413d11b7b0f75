"""What the OpenAPI document (drf-spectacular) says must be what the API answers;
schemathesis (tests/security/test_api_fuzz.py) checks every response against it.
Two classes of mismatch are corrected here once rather than field by field."""

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers

# HH:MM[:SS[.ffffff]], what DRF's TimeField writes and reads.
TIME_PATTERN = r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$"


def _model_fields(field) -> list[models.Field] | None:
    """The model fields a read-only serializer field walks through (`unit.batch.code`:
    Ticket.unit, Unit.batch, Batch.code); None when the source is not a model path."""
    serializer = getattr(field, "parent", None)
    model = getattr(getattr(serializer, "Meta", None), "model", None)
    if model is None or not field.source or field.source == "*":
        return None
    path = []
    for name in field.source.split("."):
        if model is None:
            return None
        try:
            model_field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        path.append(model_field)
        model = model_field.related_model
    return path


class AutoSchema(SpectacularAutoSchema):
    """DRF builds read-only model fields without `allow_null`/`allow_blank`, so the
    generated schema forbade the null of an empty foreign key (a ticket without a unit)
    and the "" of a blank choice (a ticket not yet dispatched): both are answered."""

    def _get_serializer_field_meta(self, field, direction):
        meta = super()._get_serializer_field_meta(field, direction)
        if not isinstance(field, serializers.Field) or field.allow_null:
            return meta
        # `default=None`: DRF answers null when the source is missing (the request
        # direction still refuses a null, as the field does); and it answers null when
        # any step of a read-only field's dotted source is None.
        falls_back = direction == "response" and field.default is None
        if falls_back or (field.read_only and any(step.null for step in _model_fields(field) or ())):
            meta["nullable"] = True
        return meta

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        if isinstance(field, serializers.ChoiceField) and field.read_only and not field.allow_blank:
            path = _model_fields(field)
            if path and path[-1].blank:
                field.allow_blank = True
        return super()._map_serializer_field(field, direction, bypass_extensions)


def postprocess_time_format(result, generator, request, public):
    """OpenAPI leaves `format: time` undefined and JSON Schema reads it as RFC 3339
    (an offset required); Django's times have none, so state their shape instead."""

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "string" and node.get("format") == "time":
                del node["format"]
                node["pattern"] = TIME_PATTERN
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result


# INTERFACES.md: every error is `{"detail": "...", "errors": {field: [reason]}}`
# (catalog.api.exceptions builds it); views declare an error code's description only.
API_ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "errors": {"type": "object", "additionalProperties": {}}},
    "required": ["detail", "errors"],
}
ERROR_RESPONSES = {
    "400": "Invalid input: `errors` names each field and the reason.",
    "401": "Not signed in.",
    "403": "Not allowed for this role.",
    "404": "Not found, or outside the caller's scope.",
}


def postprocess_error_responses(result, generator, request, public):
    """Declare the error answers every operation can give (and the body of those a view
    declared without one), so clients see them and schemathesis checks their shape too:
    400 for bad input, 401/403 for who may call, 404 for an object in the path."""
    result.setdefault("components", {}).setdefault("schemas", {})["ApiError"] = API_ERROR
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            codes = ["400", "401", "403"] + (["404"] if "{" in path else [])
            for code in codes:
                responses.setdefault(code, {"description": ERROR_RESPONSES[code]})
            for code, response in responses.items():
                if code[0] == "4" and "content" not in response:
                    response["content"] = content
    return result

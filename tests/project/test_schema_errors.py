"""The OpenAPI document declares the error answers of every operation with the one
error body of INTERFACES.md, so clients (and schemathesis) can rely on them."""

from drf_spectacular.generators import SchemaGenerator

ERROR_REF = {"$ref": "#/components/schemas/ApiError"}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_operation_declares_its_error_answers_with_the_error_body():
    schema = _schema()
    assert schema["components"]["schemas"]["ApiError"]["required"] == ["detail", "errors"]
    missing = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation["responses"]
            expected = {"400", "401", "403"} | ({"404"} if "{" in path else set())
            missing += [f"{method.upper()} {path} {code}" for code in sorted(expected - set(responses))]
            for code, response in responses.items():
                if code.startswith("4") and "content" not in response:
                    missing.append(f"{method.upper()} {path} {code}: no body")
    assert missing == []


def test_a_body_a_view_declares_is_kept_and_a_description_gets_the_error_body():
    operation = _schema()["paths"]["/api/v1/imports/{entity}/"]["post"]["responses"]
    # The strict import's 400 lists the rejected rows: its own body, not the generic one.
    assert operation["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ImportRejected"}
    assert operation["404"]["description"] == "Unknown entity."
    assert operation["404"]["content"]["application/json"]["schema"] == ERROR_REF

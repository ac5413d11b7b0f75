"""The contract columns of each entity as the upload preview and the mapping-profile form
need them (name -> required), read from the engine's definitions (intake/contract.py)."""

from .contract import ENTITIES


def entity_columns(entity: str) -> dict[str, bool]:
    """The entity's columns in contract order: name -> required ({} for an unknown entity)."""
    spec = ENTITIES.get(entity)
    return {column.name: column.required for column in spec.columns} if spec else {}


def all_columns() -> set[str]:
    return {column.name for spec in ENTITIES.values() for column in spec.columns}

from rest_framework import serializers

# The largest primary key (BigAutoField: a signed 64-bit integer on PostgreSQL and
# SQLite); a larger id cannot name a row, and the database refuses it in a query.
MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """A row id given by a client: 1..MAX_ID, so it is a 400 rather than a database error."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

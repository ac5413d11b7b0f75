from rest_framework import serializers

from ..kpi.registry import DIMENSIONS


class KpiSerializer(serializers.Serializer):
    """A catalogue entry: INTERFACES.md's code, names, category, unit, direction, dims,
    target, plus the definition text (口径) in both languages."""

    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    name_zh = serializers.CharField()
    category = serializers.CharField()
    category_name = serializers.CharField()
    unit = serializers.CharField()
    unit_name = serializers.CharField()
    direction = serializers.ChoiceField(choices=["up", "down"])
    kind = serializers.ChoiceField(choices=["ratio", "mean", "count"])
    dims = serializers.ListField(child=serializers.CharField())
    dimension_names = serializers.SerializerMethodField()
    target = serializers.FloatField(allow_null=True)
    definition = serializers.CharField()
    definition_en = serializers.CharField()
    definition_zh = serializers.CharField()
    custom = serializers.BooleanField()

    def get_dimension_names(self, kpi) -> dict[str, str]:
        return {dim: str(DIMENSIONS[dim]) for dim in kpi.dims}

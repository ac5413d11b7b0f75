from rest_framework import serializers

from catalog.models import Batch, Customer, ProductModel, Segment, Unit


class CustomerSerializer(serializers.ModelSerializer):
    region = serializers.CharField(source="region.name", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "external_id", "name", "region", "segment", "city", "email", "phone", "created_at"]


class ProductModelSerializer(serializers.ModelSerializer):
    product_line = serializers.CharField(source="product_line.code", read_only=True)

    class Meta:
        model = ProductModel
        fields = ["id", "code", "name", "product_line", "launched_on"]


class BatchSerializer(serializers.ModelSerializer):
    product_model = serializers.CharField(source="product_model.code", read_only=True)

    class Meta:
        model = Batch
        fields = ["id", "code", "product_model", "produced_on", "quantity", "plant"]


class UnitSerializer(serializers.ModelSerializer):
    product_model = serializers.CharField(source="product_model.code", read_only=True)
    product_line = serializers.CharField(source="product_model.product_line.code", read_only=True)
    batch = serializers.CharField(source="batch.code", read_only=True, default=None)
    customer = serializers.CharField(source="customer.external_id", read_only=True, default=None)

    class Meta:
        model = Unit
        fields = ["id", "serial", "product_model", "product_line", "batch", "customer", "sold_on", "warranty_months"]


class CustomerCreateSerializer(serializers.Serializer):
    """Input only: the service validates the rules (region aliases, unique ID)."""

    name = serializers.CharField(max_length=200)
    region = serializers.CharField(max_length=120)
    segment = serializers.ChoiceField(choices=Segment.choices, default=Segment.CONSUMER)
    city = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    external_id = serializers.CharField(max_length=64, required=False)

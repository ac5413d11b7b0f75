"""The two fishbone category sets every installation starts with."""

from django.db import migrations

SETS = [
    {
        "code": "default",
        "name_en": "People, process, technology, customer, environment",
        "name_zh": "人员、流程、技术、客户需求、外部环境",
        "is_default": True,
        "categories": [
            {"code": "people", "name_en": "People", "name_zh": "人员"},
            {"code": "process", "name_en": "Process", "name_zh": "流程"},
            {"code": "technology", "name_en": "Technology", "name_zh": "技术"},
            {"code": "customer", "name_en": "Customer needs", "name_zh": "客户需求"},
            {"code": "environment", "name_en": "External environment", "name_zh": "外部环境"},
        ],
    },
    {
        "code": "6m",
        "name_en": "6M",
        "name_zh": "6M（人机料法测环）",
        "is_default": False,
        "categories": [
            {"code": "man", "name_en": "Man", "name_zh": "人"},
            {"code": "machine", "name_en": "Machine", "name_zh": "机"},
            {"code": "material", "name_en": "Material", "name_zh": "料"},
            {"code": "method", "name_en": "Method", "name_zh": "法"},
            {"code": "measurement", "name_en": "Measurement", "name_zh": "测"},
            {"code": "environment", "name_en": "Mother nature (environment)", "name_zh": "环"},
        ],
    },
]


def install(apps, schema_editor):
    FishboneSet = apps.get_model("improvements", "FishboneSet")
    for values in SETS:
        FishboneSet.objects.update_or_create(code=values["code"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("improvements", "0001_initial")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]

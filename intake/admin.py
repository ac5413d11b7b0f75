from django.contrib import admin

from .models import ImportRowError, ImportRun, MappingProfile


@admin.register(MappingProfile)
class MappingProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "source_system", "entity", "time_zone", "updated_at")
    list_filter = ("entity", "source_system")
    search_fields = ("name", "source_system")


class ImportRowErrorInline(admin.TabularInline):
    model = ImportRowError
    extra = 0
    can_delete = False
    readonly_fields = ("row", "column", "value", "reason", "code")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = (
        "started_at",
        "entity",
        "file_name",
        "mode",
        "dry_run",
        "source",
        "status",
        "rows",
        "created",
        "updated",
        "rejected",
        "user",
    )
    list_filter = ("entity", "status", "mode", "source", "dry_run")
    search_fields = ("file_name",)
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in ImportRun._meta.fields]
    inlines = [ImportRowErrorInline]

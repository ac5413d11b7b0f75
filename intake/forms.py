"""Forms of the import pages. They parse input (files, the profile's one-rule-per-line
text areas) and point at the line in error; the services decide what is stored."""

from pathlib import Path

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from tickets.forms import BootstrapMixin

from .models import ENTITY_CHOICES, ImportMode, ImportSource, ImportStatus, MappingProfile
from .selectors import UPLOAD_SUFFIXES, mapping_profile_list
from .services import column_problem, datetime_format_problem, time_zone_problem

DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
ARROW = "=>"


def max_upload_bytes() -> int:
    return int(getattr(settings, "INTAKE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


class ProfileChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        scope = obj.entity or _("all entities")
        return f"{obj.name} ({scope})"


class ImportChoicesForm(BootstrapMixin, forms.Form):
    """What to import the file as: entity, mapping profile, mode."""

    entity = forms.ChoiceField(label=_("Entity"), choices=ENTITY_CHOICES)
    profile = ProfileChoiceField(
        label=_("Mapping profile"),
        queryset=MappingProfile.objects.none(),
        required=False,
        empty_label=_("None: the standard template"),
        help_text=_("Renames and value maps of another system's export."),
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=ImportMode.choices, initial=ImportMode.STRICT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = mapping_profile_list()

    def clean(self):
        data = super().clean()
        profile, entity = data.get("profile"), data.get("entity")
        if profile and entity and profile.entity and profile.entity != entity:
            self.add_error(
                "profile",
                _("This profile is for %(entity)s, not %(chosen)s.") % {"entity": profile.entity, "chosen": entity},
            )
        return data


class UploadForm(ImportChoicesForm):
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8) or XLSX with the template's header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(UPLOAD_SUFFIXES)}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in UPLOAD_SUFFIXES:
            raise forms.ValidationError(_("Upload a .csv or .xlsx file."), code="extension")
        if upload.size > max_upload_bytes():
            raise forms.ValidationError(
                _("The file is %(size)s; the limit is %(limit)s. Split it into several files.")
                % {"size": filesizeformat(upload.size), "limit": filesizeformat(max_upload_bytes())},
                code="size",
            )
        return upload


class RunStartForm(ImportChoicesForm):
    """The preview page's buttons: a dry run or the import, with the chosen settings."""

    DRY_RUN, IMPORT = "dry_run", "import"
    action = forms.ChoiceField(choices=[(DRY_RUN, DRY_RUN), (IMPORT, IMPORT)], widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("entity", "profile"):
            self.fields[name].widget = forms.HiddenInput()


class RunFilterForm(BootstrapMixin, forms.Form):
    entity = forms.ChoiceField(label=_("Entity"), choices=[("", _("Any entity")), *ENTITY_CHOICES], required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any status")), *ImportStatus.choices], required=False
    )
    source = forms.ChoiceField(
        label=_("Source"), choices=[("", _("Any source")), *ImportSource.choices], required=False
    )

    def filters(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value}


class QualityFilterForm(BootstrapMixin, forms.Form):
    """The data-quality page's filter: one entity or all, and the window in days."""

    entity = forms.ChoiceField(label=_("Entity"), choices=[("", _("Every entity")), *ENTITY_CHOICES], required=False)
    window_days = forms.TypedChoiceField(
        label=_("Window"),
        choices=[(days, _("Last %(days)s days") % {"days": days}) for days in (7, 30, 90)],
        coerce=int,
        required=False,
        empty_value=30,
    )

    DEFAULT_WINDOW = 30

    def __init__(self, data=None, **kwargs):
        # The select must show the window the report uses, also when a link names only
        # the entity (the browser would otherwise show the first choice, 7 days).
        if data is not None and not data.get("window_days"):
            data = data.copy()
            data["window_days"] = str(self.DEFAULT_WINDOW)
        super().__init__(data, initial={"window_days": self.DEFAULT_WINDOW}, **kwargs)

    def report_args(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {"window_days": self.DEFAULT_WINDOW, "entity": None}
        return {"window_days": self.cleaned_data["window_days"], "entity": self.cleaned_data["entity"] or None}


# --- mapping profiles -------------------------------------------------------------------------


def _lines(text: str):
    """(line number, content) of the non-blank lines."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line := line.strip():
            yield number, line


def _line_error(number: int, message) -> str:
    return _("Line %(number)s: %(message)s") % {"number": number, "message": message}


def column_renames_to_text(column_map: dict) -> str:
    return "\n".join(f"{source} {ARROW} {target}" for source, target in column_map.items())


def value_maps_to_text(value_map: dict) -> str:
    return "\n".join(
        f"{column}: {source} {ARROW} {target}"
        for column, values in value_map.items()
        for source, target in values.items()
    )


def _profile_label(name: str):
    """A form label from the model field's (translated) verbose name."""
    return lazy(lambda: capfirst(MappingProfile._meta.get_field(name).verbose_name), str)()


class MappingProfileForm(BootstrapMixin, forms.Form):
    name = forms.CharField(label=_profile_label("name"), max_length=120)
    source_system = forms.CharField(
        label=_profile_label("source_system"),
        max_length=120,
        required=False,
        help_text=_("e.g. the CRM the files come from."),
    )
    entity = forms.ChoiceField(
        label=_profile_label("entity"),
        choices=[("", _("All entities")), *ENTITY_CHOICES],
        required=False,
        help_text=_("Blank: the profile can be used for every entity."),
    )
    column_map = forms.CharField(
        label=_profile_label("column_map"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "placeholder": "客户编号 => external_id"}),
        help_text=_("One per line: source header => contract column. Headers match regardless of case."),
    )
    value_map = forms.CharField(
        label=_profile_label("value_map"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "placeholder": "channel: 微信 => wechat"}),
        help_text=_("One per line: contract column: source value => contract value."),
    )
    datetime_formats = forms.CharField(
        label=_profile_label("datetime_formats"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "class": "font-monospace", "placeholder": "%Y/%m/%d %H:%M"}),
        help_text=_("One strptime format per line, tried before ISO 8601."),
    )
    time_zone = forms.CharField(
        label=_profile_label("time_zone"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "Asia/Shanghai"}),
        help_text=_("For timestamps without an offset; blank: the site's time zone."),
    )

    @classmethod
    def initial_for(cls, profile: MappingProfile) -> dict:
        return {
            "name": profile.name,
            "source_system": profile.source_system,
            "entity": profile.entity,
            "column_map": column_renames_to_text(profile.column_map),
            "value_map": value_maps_to_text(profile.value_map),
            "datetime_formats": "\n".join(profile.datetime_formats),
            "time_zone": profile.time_zone,
        }

    def _entity(self) -> str:
        # Columns are checked against the entity chosen in the same form (clean_entity ran first).
        return self.cleaned_data.get("entity", "")

    def clean_column_map(self) -> dict[str, str]:
        renames: dict[str, str] = {}
        seen: dict[str, int] = {}
        errors = []
        for number, line in _lines(self.cleaned_data["column_map"]):
            source, arrow, target = (part.strip() for part in line.partition(ARROW))
            if not arrow or not source or not target:
                errors.append(_line_error(number, _("write “source header => contract column”.")))
                continue
            target = target.lower()
            key = source.lower()
            if key in seen:
                errors.append(
                    _line_error(
                        number,
                        _("“%(header)s” is already renamed on line %(line)s.") % {"header": source, "line": seen[key]},
                    )
                )
                continue
            if problem := column_problem(target, entity=self._entity()):
                errors.append(_line_error(number, problem))
                continue
            seen[key] = number
            renames[source] = target
        if errors:
            raise forms.ValidationError(errors)
        return renames

    def clean_value_map(self) -> dict[str, dict[str, str]]:
        value_map: dict[str, dict[str, str]] = {}
        errors = []
        for number, line in _lines(self.cleaned_data["value_map"]):
            column, colon, rest = (part.strip() for part in line.partition(":"))
            source, arrow, target = (part.strip() for part in rest.partition(ARROW))
            if not colon or not arrow or not column or not source:
                errors.append(_line_error(number, _("write “column: source value => contract value”.")))
                continue
            column = column.lower()
            if problem := column_problem(column, entity=self._entity()):
                errors.append(_line_error(number, problem))
                continue
            if source in value_map.get(column, {}):
                errors.append(
                    _line_error(
                        number, _("“%(value)s” of %(column)s is mapped twice.") % {"value": source, "column": column}
                    )
                )
                continue
            value_map.setdefault(column, {})[source] = target
        if errors:
            raise forms.ValidationError(errors)
        return value_map

    def clean_datetime_formats(self) -> list[str]:
        formats, errors = [], []
        for number, line in _lines(self.cleaned_data["datetime_formats"]):
            if problem := datetime_format_problem(line):
                errors.append(_line_error(number, problem))
            else:
                formats.append(line)
        if errors:
            raise forms.ValidationError(errors)
        return formats

    def clean_time_zone(self) -> str:
        zone = self.cleaned_data["time_zone"].strip()
        if problem := time_zone_problem(zone):
            raise forms.ValidationError(problem)
        return zone

"""The scope of a reliability analysis: the sold units of a product line, model, batch,
or of the models a component fails in (there is no bill of materials), and for a
component only its own failures."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from quality.models import Failure


@dataclass(frozen=True)
class AnalysisScope:
    product_line: str = ""
    product_model: str = ""
    batch: str = ""
    component: str = ""

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}

    def units_q(self, prefix: str = "") -> Q:
        q = Q()
        if self.product_line:
            q &= Q(**{f"{prefix}product_model__product_line__code": self.product_line})
        if self.product_model:
            q &= Q(**{f"{prefix}product_model__code": self.product_model})
        if self.batch:
            q &= Q(**{f"{prefix}batch__code": self.batch})
        if self.component and not (self.product_model or self.batch):
            # No bill of materials: a component's population is the units of the
            # models in which it has failed at least once.
            models_with = Failure.objects.filter(component__code=self.component).values("unit__product_model")
            q &= Q(**{f"{prefix}product_model__in": models_with})
        return q

    def failures_q(self, prefix: str = "") -> Q:
        """The failures that count for this scope (for a component: its own failures)."""
        return Q(**{f"{prefix}component__code": self.component}) if self.component else Q()

"""Effectiveness verification: one KPI in one scope, before and after windows, an
optional control group; a Poisson rate-ratio test (counts per exposure) or a
two-proportion test (rates) gives the p-value and the effect; the verdict follows from
the data (improvements.stats).

Which test: a ratio KPI whose denominator is a stock (units in service, customers: an
exposure) or whose unit is "per_..." -> Poisson rate ratio on the counts per exposure
(the stock summed over the window's days: unit-days); a "%" KPI over a flow of records
-> two-proportion. Mean and count KPIs (and stock numerators) are not testable."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.exceptions import ApplicationError, ConflictError
from quality.kpi.engine import KpiUsageError, kpi_compute, kpi_request_check
from quality.kpi.periods import kpi_zone
from quality.kpi.registry import Kpi, kpi_lookup

from .. import stats
from ..models import State, TestKind, Verdict, Verification
from .issues import OPEN_STATES, issue_event, issue_lock, issue_loop_back

# Exposure KPIs report their window values as a rate per this many days of exposure
# (about a month: the grain the dashboards show them at).
RATE_DAYS = 30


def verification_test_for(kpi: Kpi) -> str | None:
    """The test a KPI's definition calls for, None when it is not testable."""
    if kpi.kind != "ratio" or kpi.denominator is None or getattr(kpi.numerator, "stock", True):
        return None
    if getattr(kpi.numerator, "kind", "") not in ("count", "distinct"):
        return None  # a custom numerator (NPS: promoters minus detractors) is no count
    if kpi.denominator.stock or kpi.unit.startswith("per_"):
        return TestKind.POISSON
    if kpi.unit == "%":
        return TestKind.TWO_PROPORTION
    return None


def _date(value, name: str, errors: dict) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors[name] = [_("Give a date (YYYY-MM-DD).")]
        return None


def _clean_filters(value, name: str, errors: dict) -> dict[str, str] | None:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        errors[name] = [_("Give the scope as dimension = member pairs.")]
        return None
    return {k: str(v) for k, v in value.items() if str(v).strip()}


def _window_sums(kpi: Kpi, filters: dict, start: dt.date, end: dt.date) -> tuple[float, float]:
    """(numerator, denominator) over [start, end): the engine's daily rows, summed. A
    stock denominator summed over days is an exposure in record-days."""
    rows = kpi_compute(kpi=kpi, grain="day", start=start, end=end, filters=filters)
    return (
        float(sum(row["numerator"] or 0 for row in rows)),
        float(sum(row["denominator"] or 0 for row in rows)),
    )


def _value(kpi: Kpi, test: str, numerator: float, denominator: float) -> float | None:
    if not denominator:
        return None
    value = kpi.scale * numerator / denominator
    return value * RATE_DAYS if test == TestKind.POISSON else value


def _figures(kpi: Kpi, test: str, treated: dict, control: dict | None) -> dict:
    """The effect, its interval, the p-value and the relative change in the KPI's terms."""
    improvement = kpi.direction
    before_n, before_d = treated["before"]
    after_n, after_d = treated["after"]
    if test == TestKind.POISSON:
        if control:
            (cbn, cbd), (can, cad) = control["before"], control["after"]
            result = stats.rate_ratio_controlled(
                before_count=before_n,
                before_exposure=before_d,
                after_count=after_n,
                after_exposure=after_d,
                control_before_count=cbn,
                control_before_exposure=cbd,
                control_after_count=can,
                control_after_exposure=cad,
                improvement=improvement,
            )
        else:
            result = stats.poisson_rate_ratio(
                before_count=before_n,
                before_exposure=before_d,
                after_count=after_n,
                after_exposure=after_d,
                improvement=improvement,
            )
        ratio = result["ratio"]
        return {
            "effect": ratio,
            "relative_change": None if ratio is None else ratio - 1,
            "ci_low": result["ci_low"],
            "ci_high": result["ci_high"],
            "p_value": result["p_value"],
            "good": stats.improvement_of_ratio(ratio, improvement),
        }
    args = dict(before_x=before_n, before_n=before_d, after_x=after_n, after_n=after_d, improvement=improvement)
    if control:
        (cbn, cbd), (can, cad) = control["before"], control["after"]
        result = stats.proportion_difference_in_differences(
            **args, control_before_x=cbn, control_before_n=cbd, control_after_x=can, control_after_n=cad
        )
    else:
        result = stats.two_proportion(**args)
    scale = kpi.scale  # the difference in the KPI's own unit (percentage points)
    return {
        "effect": None if result["difference"] is None else result["difference"] * scale,
        "relative_change": result["relative"],
        "ci_low": None if result["ci_low"] is None else result["ci_low"] * scale,
        "ci_high": None if result["ci_high"] is None else result["ci_high"] * scale,
        "p_value": result["p_value"],
        "good": stats.improvement_of_relative(result["relative"], improvement),
    }


def verification_check(
    *,
    kpi: str,
    filters,
    before_start,
    before_end,
    after_start,
    after_end,
    control_filters=None,
    alpha=0.05,
    min_effect=0.2,
    today: dt.date | None = None,
) -> dict:
    """The request, cleaned: {kpi, test, filters, control_filters, windows, alpha,
    min_effect}; raises ApplicationError with every problem at once."""
    errors: dict[str, list[str]] = {}
    definition = kpi_lookup(kpi or "")
    test = None
    if definition is None:
        errors["kpi"] = [_("Unknown KPI “%(code)s”.") % {"code": str(kpi)[:64]}]
    else:
        test = verification_test_for(definition)
        if test is None:
            errors["kpi"] = [
                _("%(kpi)s is not testable: choose a rate KPI (counts per exposure, or a percentage of records).")
                % {"kpi": definition.code}
            ]
    clean = {
        "filters": _clean_filters(filters, "filters", errors),
        "control_filters": _clean_filters(control_filters, "control_filters", errors),
    }
    days = {
        name: _date(value, name, errors)
        for name, value in (
            ("before_start", before_start),
            ("before_end", before_end),
            ("after_start", after_start),
            ("after_end", after_end),
        )
    }
    if None not in days.values():
        if days["before_end"] <= days["before_start"]:
            errors["before_end"] = [_("The before window is empty (its end is exclusive).")]
        if days["after_end"] <= days["after_start"]:
            errors["after_end"] = [_("The after window is empty (its end is exclusive).")]
        if days["after_start"] < days["before_end"]:
            errors["after_start"] = [_("The after window must start when the before window ends, or later.")]
        today = today or timezone.now().astimezone(kpi_zone()).date()
        if days["after_end"] > today + dt.timedelta(days=1):
            errors.setdefault("after_end", []).append(_("The after window cannot end in the future."))
    try:
        alpha = float(alpha)
        if not 0 < alpha < 1:
            raise ValueError
    except (TypeError, ValueError):
        errors["alpha"] = [_("The significance level must be between 0 and 1.")]
    try:
        min_effect = float(min_effect)
        if not 0 <= min_effect < 10:
            raise ValueError
    except (TypeError, ValueError):
        errors["min_effect"] = [_("The minimum improvement is a share (0.2 = 20 %).")]
    if definition is not None and None not in days.values():
        for name in ("filters", "control_filters"):
            if clean[name]:
                try:
                    kpi_request_check(
                        kpi=definition,
                        grain="day",
                        start=days["before_start"],
                        end=max(days["after_end"], days["before_start"] + dt.timedelta(days=1)),
                        by=(),
                        filters=clean[name],
                    )
                except KpiUsageError as exc:
                    found = exc.errors.get("filters") or exc.errors.get("start") or [str(exc)]
                    errors.setdefault(name, []).extend(found)
    if clean["control_filters"] and clean["control_filters"] == clean["filters"]:
        errors.setdefault("control_filters", []).append(_("The control group must differ from the scope."))
    if errors:
        raise ApplicationError(_("The verification was not run."), errors=errors)
    return {"kpi": definition, "test": test, **clean, **days, "alpha": alpha, "min_effect": min_effect}


@transaction.atomic
def verification_run(
    *,
    issue_id: int,
    actor,
    kpi: str,
    filters: dict,
    before_start,
    before_end,
    after_start,
    after_end,
    control_filters: dict | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.2,
    comment: str = "",
    at=None,
):
    """Store a Verification with every figure and one "verification" event; a
    not-effective verdict sends an issue in verification back to root cause
    (issue_loop_back), in the same transaction. Locks the issue; a refused request
    writes nothing. Runs in any open state (an early check of progress); the gate reads
    the latest one when closing."""
    at = at or timezone.now()
    if timezone.is_naive(at):
        raise ValueError("timezone-aware datetimes only")
    issue = issue_lock(issue_id)
    if issue.state not in OPEN_STATES:
        raise ConflictError(
            _("Only an open issue can be verified; reopen it first."), errors={"state": [_("not open")]}
        )
    request = verification_check(
        kpi=kpi,
        filters=filters,
        before_start=before_start,
        before_end=before_end,
        after_start=after_start,
        after_end=after_end,
        control_filters=control_filters,
        alpha=alpha,
        min_effect=min_effect,
        today=at.astimezone(kpi_zone()).date(),
    )
    definition, test = request["kpi"], request["test"]
    windows = {
        "before": (request["before_start"], request["before_end"]),
        "after": (request["after_start"], request["after_end"]),
    }
    treated = {side: _window_sums(definition, request["filters"], *span) for side, span in windows.items()}
    control = None
    if request["control_filters"]:
        control = {side: _window_sums(definition, request["control_filters"], *span) for side, span in windows.items()}
    figures = _figures(definition, test, treated, control)
    verdict = stats.verdict(
        relative_improvement=figures.pop("good"),
        p_value=figures["p_value"],
        alpha=request["alpha"],
        min_effect=request["min_effect"],
    )
    control_json = {}
    if control:
        control_json = {
            "before_numerator": control["before"][0],
            "before_denominator": control["before"][1],
            "after_numerator": control["after"][0],
            "after_denominator": control["after"][1],
            "before_value": _value(definition, test, *control["before"]),
            "after_value": _value(definition, test, *control["after"]),
        }
    verification = Verification.objects.create(
        issue=issue,
        kpi=definition.code,
        filters=request["filters"],
        control_filters=request["control_filters"] or None,
        before_start=request["before_start"],
        before_end=request["before_end"],
        after_start=request["after_start"],
        after_end=request["after_end"],
        test=test,
        alpha=request["alpha"],
        min_effect=request["min_effect"],
        before_numerator=treated["before"][0],
        before_denominator=treated["before"][1],
        after_numerator=treated["after"][0],
        after_denominator=treated["after"][1],
        control=control_json,
        before_value=_value(definition, test, *treated["before"]),
        after_value=_value(definition, test, *treated["after"]),
        verdict=verdict,
        comment=(comment or "").strip(),
        created_at=at,
        created_by=actor,
        **figures,
    )
    issue_event(
        issue,
        actor=actor,
        at=at,
        kind="verification",
        from_value=definition.code,
        to_value=verdict,
        comment=(comment or "").strip(),
    )
    if issue.state == State.VERIFICATION and verdict == Verdict.NOT_EFFECTIVE:
        issue_loop_back(
            issue_id=issue.pk,
            actor=actor,
            comment=_("Verification on %(kpi)s judged not effective.") % {"kpi": definition.code},
            at=max(at, issue.state_entered_at),
        )
    return verification

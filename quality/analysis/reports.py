"""The analyses of one scope, as the JSON the analysis API and pages use: the reads
come from quality.selectors (one query per scope), the computations from the pure
modules next to this one. Lifetimes are months in service (days / 30.4375) to the
first failure; see README "Reliability analytics"."""

from __future__ import annotations

import datetime as dt

import numpy as np

from catalog.exceptions import ApplicationError

from .. import selectors
from .forecast import forecast
from .nevada import month_index, month_label
from .scope import AnalysisScope
from .survival import claims_per_1000, kaplan_meier
from .weibull import METHODS, weibull_fit, weibull_plot

# Claims curves run to this many months in service at most.
MAX_MONTHS = 60


def _fit_or_reason(failures, suspensions, method: str) -> tuple[dict | None, str | None]:
    try:
        return weibull_fit(failures=failures, suspensions=suspensions, method=method).as_dict(), None
    except ApplicationError as exc:
        return None, exc.message


def _header(scope: AnalysisScope, as_of: dt.date, life: dict) -> dict:
    return {
        "scope": scope.as_dict(),
        "as_of": as_of.isoformat(),
        "units": int(life["failures"].size + life["suspensions"].size),
        "failures": int(life["failures"].size),
        "suspensions": int(life["suspensions"].size),
        "excluded": life["excluded"],
        "time_unit": "months",
    }


def scope_weibull(*, scope: AnalysisScope, as_of: dt.date) -> dict:
    """MLE (with Fisher bounds), RRX and RRY fits of a scope and its probability plot."""
    life = selectors.analysis_lifetimes(scope=scope, as_of=as_of)
    body = _header(scope, as_of, life)
    fits, reasons = [], {}
    for method in METHODS:
        fit, reason = _fit_or_reason(life["failures"], life["suspensions"], method)
        if fit:
            fits.append(fit)
        else:
            reasons[method] = reason
    body["fits"] = fits
    body["reasons"] = reasons
    if fits:
        from .weibull import WeibullFit

        body["plot"] = weibull_plot(
            failures=life["failures"], suspensions=life["suspensions"], fits=[WeibullFit(**f) for f in fits]
        )
    else:
        body["plot"] = {"points": [], "lines": []}
    return body


def batch_comparison(*, product_model: str, as_of: dt.date) -> dict:
    """MLE beta, eta, B10 (with 90 % Fisher bounds) per batch of a model, beside the same
    fit on the model's other batches pooled. A batch `stands_out` when its B10 bounds lie
    wholly below those of the other batches (it fails early); `shape_differs` when its
    beta bounds do not overlap theirs (another failure mechanism)."""
    if not product_model:
        raise ApplicationError("product_model is required.", errors={"product_model": ["required"]})
    scope = AnalysisScope(product_model=product_model)
    life = selectors.analysis_lifetimes(scope=scope, as_of=as_of, group_by="batch__code")
    f, s = life["failures"], life["suspensions"]
    fg, sg = life["failure_groups"], life["suspension_groups"]
    model_fit, model_reason = _fit_or_reason(f, s, "mle")
    rows = []
    for batch in selectors.analysis_batches(product_model=product_model):
        code = batch["code"]
        in_f, in_s = fg == code, sg == code
        n_units = int(in_f.sum() + in_s.sum())
        fit, reason = _fit_or_reason(f[in_f], s[in_s], "mle") if n_units else (None, None)
        others, _ = _fit_or_reason(f[~in_f], s[~in_s], "mle") if fit else (None, None)
        rows.append(
            {
                "batch": code,
                "produced_on": batch["produced_on"].isoformat(),
                "quantity": batch["quantity"],
                "units_sold": n_units,
                "failures": int(in_f.sum()),
                "failures_per_1000": 1000.0 * in_f.sum() / n_units if n_units else None,
                "fit": fit,
                "reason": reason,
                "others": others,
                "stands_out": bool(fit and others and _below(fit, others, "b10")),
                "shape_differs": bool(fit and others and (_below(fit, others, "beta") or _below(others, fit, "beta"))),
            }
        )
    return {
        **_header(scope, as_of, life),
        "model_fit": model_fit,
        "model_reason": model_reason,
        "batches": rows,
    }


def _below(fit: dict, other: dict, name: str) -> bool:
    """fit's upper bound on `name` is below other's lower bound."""
    hi, olo = fit.get(f"{name}_upper"), other.get(f"{name}_lower")
    return hi is not None and olo is not None and hi < olo


def nevada_chart(*, scope: AnalysisScope, as_of: dt.date, basis: str = "sale", count: str = "all") -> dict:
    """Rows = sale (or production) months with their units; cells = failures by months
    in service (calendar-month difference, so the sale month itself is MIS 0)."""
    data = selectors.analysis_nevada_counts(scope=scope, as_of=as_of, basis=basis, count=count)
    cutoff = month_index(as_of.isoformat())
    rows: dict[str, dict] = {
        month: {"month": month, "units": n, "cells": {}, "failures": 0, "max_mis": cutoff - month_index(month)}
        for month, n in data["units"].items()
    }
    max_mis = 0
    for month, failed, n in data["cells"]:
        row = rows.setdefault(
            month, {"month": month, "units": 0, "cells": {}, "failures": 0, "max_mis": cutoff - month_index(month)}
        )
        mis = month_index(failed) - month_index(month)
        row["cells"][str(mis)] = row["cells"].get(str(mis), 0) + n
        row["failures"] += n
        max_mis = max(max_mis, mis)
    ordered = [rows[m] for m in sorted(rows)]
    max_mis = max([max_mis, *(r["max_mis"] for r in ordered)]) if ordered else 0
    totals = {str(m): sum(r["cells"].get(str(m), 0) for r in ordered) for m in range(max_mis + 1)}
    return {
        "scope": scope.as_dict(),
        "as_of": as_of.isoformat(),
        "basis": basis,
        "count": count,
        "cutoff": month_label(cutoff),
        "max_mis": max_mis,
        "rows": ordered,
        "totals": totals,
        "units": sum(r["units"] for r in ordered),
        "failures": sum(r["failures"] for r in ordered),
    }


def claims_curve(*, scope: AnalysisScope, as_of: dt.date, months: int | None = None) -> dict:
    """Cumulative claims per 1000 units by months in service: naive and Kaplan-Meier."""
    life = selectors.analysis_lifetimes(scope=scope, as_of=as_of)
    f, s = life["failures"], life["suspensions"]
    oldest = float(max(f.max() if f.size else 0, s.max() if s.size else 0))
    horizon = months or max(1, min(MAX_MONTHS, int(np.ceil(oldest))))
    return {
        **_header(scope, as_of, life),
        "rows": claims_per_1000(failures=f, suspensions=s, months=horizon),
    }


def scope_kaplan_meier(*, scope: AnalysisScope, as_of: dt.date) -> dict:
    life = selectors.analysis_lifetimes(scope=scope, as_of=as_of)
    return {
        **_header(scope, as_of, life),
        "points": kaplan_meier(failures=life["failures"], suspensions=life["suspensions"]),
    }


def failure_forecast(*, scope: AnalysisScope, as_of: dt.date) -> dict:
    """Expected first failures in the next 3, 6, 12 months among the units that have not
    failed yet, under the scope's MLE Weibull fit."""
    life = selectors.analysis_lifetimes(scope=scope, as_of=as_of)
    body = _header(scope, as_of, life)
    fit, reason = _fit_or_reason(life["failures"], life["suspensions"], "mle")
    body["fit"], body["reason"] = fit, reason
    if fit:
        body.update(forecast(ages=life["suspensions"], beta=fit["beta"], eta=fit["eta"]))
    else:
        body.update({"units_in_service": int(life["suspensions"].size), "horizons": [], "curve": []})
    return body


def failure_pareto(*, scope: AnalysisScope, as_of: dt.date, start: dt.date | None = None, end: dt.date | None = None):
    rows = selectors.analysis_pareto(scope=scope, as_of=as_of, start=start, end=end)
    return {
        "scope": scope.as_dict(),
        "as_of": as_of.isoformat(),
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "failures": sum(r["failures"] for r in rows),
        "rows": rows,
    }

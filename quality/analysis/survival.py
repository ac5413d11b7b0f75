"""Kaplan-Meier survival with Greenwood limits, and claims per 1000 units by months
in service (naive beside Kaplan-Meier).

Conventions (README "Reliability analytics"):

- One point per distinct failure time t: at_risk = lifetimes >= t (a suspension tied
  with a failure is still at risk at that time, the usual Kaplan-Meier convention),
  failures = failures at t, survival S(t) = prod(1 - d/n).
- Limits: plain (linear) Greenwood, S +- z * S * sqrt(sum d / (n (n - d))), 95 % by
  default, clipped to [0, 1]; where S reaches 0 both limits are 0. This is what
  scipy.stats.ecdf(...).sf.confidence_interval(method="linear") gives.
- Claims per 1000 at m months in service: naive = 1000 x (first failures with
  lifetime <= m) / (all units), which treats every unit as if it had been in service
  m months; Kaplan-Meier = 1000 x (1 - S(m)), which lets a unit count only as long as
  it has been in service.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

DEFAULT_CONFIDENCE = 0.95


def kaplan_meier(*, failures, suspensions=(), confidence: float = DEFAULT_CONFIDENCE) -> list[dict]:
    f = np.sort(np.asarray(failures, dtype=float).reshape(-1))
    t_all = np.sort(np.concatenate([f, np.asarray(suspensions, dtype=float).reshape(-1)]))
    times, deaths = np.unique(f, return_counts=True)
    if times.size == 0:
        return []
    at_risk = t_all.size - np.searchsorted(t_all, times, side="left")
    survival = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), np.inf)
    greenwood = np.cumsum(terms)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore"):
        half = np.where(survival > 0, z * survival * np.sqrt(greenwood), 0.0)
    lower = np.clip(survival - half, 0.0, 1.0)
    upper = np.clip(survival + half, 0.0, 1.0)
    return [
        {
            "time": float(t),
            "at_risk": int(n),
            "failures": int(d),
            "survival": float(s),
            "lower": float(lo),
            "upper": float(hi),
        }
        for t, n, d, s, lo, hi in zip(times, at_risk, deaths, survival, lower, upper, strict=True)
    ]


def survival_at(points: list[dict], t: float, key: str = "survival") -> float:
    """The Kaplan-Meier step function (or a limit) at time t: 1 before the first failure."""
    value = 1.0
    for point in points:
        if point["time"] > t:
            break
        value = point[key]
    return value


def claims_per_1000(*, failures, suspensions=(), months: int) -> list[dict]:
    """Cumulative claims per 1000 units at 1..months months in service, naive and KM."""
    f = np.sort(np.asarray(failures, dtype=float).reshape(-1))
    s = np.asarray(suspensions, dtype=float).reshape(-1)
    units = f.size + s.size
    points = kaplan_meier(failures=f, suspensions=s)
    rows = []
    for m in range(1, months + 1):
        claims = int(np.searchsorted(f, m, side="right"))
        in_service = int(np.count_nonzero(f >= m) + np.count_nonzero(s >= m))
        rows.append(
            {
                "months": m,
                "claims": claims,
                "units_reaching": in_service,
                "naive": 1000.0 * claims / units if units else None,
                "km": 1000.0 * (1.0 - survival_at(points, m)) if units else None,
                # 1 - S turns S's upper limit into the lower limit of the claims.
                "km_lower": 1000.0 * (1.0 - survival_at(points, m, "upper")) if units else None,
                "km_upper": 1000.0 * (1.0 - survival_at(points, m, "lower")) if units else None,
            }
        )
    return rows

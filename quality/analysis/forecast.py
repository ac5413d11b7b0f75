"""Forecast of failures among the units in service, from a fitted Weibull.

A unit that has survived t months fails within the next h months with the conditional
probability (F(t + h) - F(t)) / (1 - F(t)) = 1 - exp((t/eta)^beta - ((t + h)/eta)^beta);
the expected number of failures is the sum over the surviving units (vectorised over
their ages). First failures only, as for the fit; times in months (days / 30.4375).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

HORIZONS = (3, 6, 12)


def expected_failures(*, ages, beta: float, eta: float, horizon: float) -> float:
    t = np.asarray(ages, dtype=float)
    if t.size == 0:
        return 0.0
    # (t/eta)^beta - ((t+h)/eta)^beta <= 0; -expm1 keeps small probabilities exact.
    return float(-np.expm1(np.power(t / eta, beta) - np.power((t + horizon) / eta, beta)).sum())


def forecast(*, ages, beta: float, eta: float, horizons: Sequence[int] = HORIZONS, curve_months: int = 12) -> dict:
    return {
        "units_in_service": int(np.asarray(ages).size),
        "horizons": [
            {"months": h, "expected_failures": expected_failures(ages=ages, beta=beta, eta=eta, horizon=h)}
            for h in horizons
        ],
        "curve": [
            {"months": h, "expected_failures": expected_failures(ages=ages, beta=beta, eta=eta, horizon=h)}
            for h in range(1, curve_months + 1)
        ],
    }

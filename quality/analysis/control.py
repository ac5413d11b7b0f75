"""Control charts on short series (README "Control charts").

One entry point, ``chart_compute(chart, values, sizes=None, params=None)``, returns
``{"chart", "center", "params", "points": [{"index", "value", "statistic", "lcl",
"ucl", "signal"}]}`` (INTERFACES.md, POST /api/v1/analysis/control-chart/); ``index``
is 1-based, ``statistic`` is what the chart plots, ``params`` the settings actually
used (defaults and estimates filled in). Conventions:

- A signal is a point strictly beyond a limit: a point on a limit (within rounding,
  1e-9 relative) is not a signal.
- ``L`` is the limit width in sigmas (default 3) for every chart but cusum and poisson.
- p, np, c, u: the LCL is clipped at 0 (a count or rate cannot be negative) and the
  p / np UCL at 1 / n; neither clip changes which points signal. p and u have
  per-point limits when the subgroup sizes vary; np needs one constant size.
- p: values = defectives, sizes = subgroup sizes, pbar = sum d / sum n.
  u: values = counts, sizes = units (exposure), ubar = sum c / sum n.
- laney_p / laney_u (Laney 2002): z_i = (p_i - pbar) / sigma_i, sigma_z = mean
  moving range of z / 1.128, limits pbar +- L sigma_i sigma_z. For large subgroups,
  where between-subgroup variation makes plain p / u limits flag nearly everything.
- xmr: individuals; sigma = mean moving range / 1.128 (d2 for n = 2), center = mean.
- ewma: z_0 = target, z_i = lambda x_i + (1 - lambda) z_{i-1}; limits target +-
  L sigma sqrt(lambda / (2 - lambda)) ("asymptotic") or times
  sqrt(1 - (1 - lambda)^(2i)) ("exact", time-varying). Defaults lambda 0.2, L 3.
- cusum (tabular): s_hi_i = max(0, s_hi_{i-1} + x_i - target - k), s_lo_i =
  max(0, s_lo_{i-1} + target - k - x_i), both as extra point fields; signal when
  either exceeds h. k and h are in the data's units (defaults 0.5 sigma and 5 sigma).
  As in qcc, ``statistic`` is the larger side signed (s_hi, or -s_lo when the lower
  sum is larger), against lcl = -h and ucl = h; ``center`` is the target.
- ewma and cusum without ``target`` / ``sigma`` estimate them from the series itself:
  target = mean, sigma = mean moving range / 1.128 (robust to a shift in the mean).
- poisson (sparse counts): values = counts, sizes = exposure; expected_i = rate x
  exposure_i with ``rate`` given or pooled (sum counts / sum exposure). statistic =
  P(X >= value_i), signal when it is < ``alpha`` (default 0.001) and the count is at
  least ``min_count`` (default 3). Limits are on the count scale: lcl = 0 and ucl =
  the largest count that does not signal, so signal == value > ucl. Extra field
  ``expected``; ``center`` is the rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
from django.utils.translation import gettext as _
from scipy import stats

from catalog.exceptions import ApplicationError

CHARTS = ("p", "np", "c", "u", "xmr", "ewma", "cusum", "laney_p", "laney_u", "poisson")
# The settings each chart takes. With strict=True (the API) anything else in params is
# refused, as a typo must not fall back silently to a default; the alert engine passes
# one settings dict for every method and the other charts' keys are ignored.
CHART_PARAMS = {
    "p": ("L",),
    "np": ("L",),
    "c": ("L",),
    "u": ("L",),
    "laney_p": ("L",),
    "laney_u": ("L",),
    "xmr": ("L",),
    "ewma": ("lambda", "L", "target", "sigma", "limits"),
    "cusum": ("k", "h", "target", "sigma"),
    "poisson": ("rate", "alpha", "min_count"),
}
SIZED = frozenset({"p", "np", "u", "laney_p", "laney_u", "poisson"})
COUNTS = frozenset({"p", "np", "c", "u", "laney_p", "laney_u", "poisson"})
MAX_POINTS = 10_000
EWMA_LIMITS = ("asymptotic", "exact")
D2 = 1.128  # E(range) / sigma for subgroups of two
_EDGE = 1e-9  # relative rounding allowance: on a limit is not beyond it


class ControlChartError(ApplicationError):
    """Bad input for a chart; ``field`` is the request field (chart, values, sizes, params)."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason, errors={field: [reason]})
        self.field = field
        self.reason = reason


# Input checks


def _number(raw, field: str, label: str) -> float:
    # bool is an int in Python; a JSON true is not a number. Decimal: KPI rows from the database.
    if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal, np.integer, np.floating)):
        raise ControlChartError(field, _("%(label)s is not a number.") % {"label": label})
    try:
        value = float(raw)
    except (OverflowError, ValueError):  # a JSON integer beyond float range; Decimal("sNaN")
        value = math.inf
    if not math.isfinite(value):
        raise ControlChartError(field, _("%(label)s must be a finite number.") % {"label": label})
    return value


def _series(raw, field: str) -> np.ndarray:
    if raw is None:
        raise ControlChartError(field, _("This field is required."))
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise ControlChartError(field, _("Expected a list of numbers."))
    if not raw:
        raise ControlChartError(field, _("At least one point is needed."))
    if len(raw) > MAX_POINTS:
        raise ControlChartError(field, _("At most %(n)d points.") % {"n": MAX_POINTS})
    return np.array([_number(item, field, _("Item %(i)d") % {"i": i + 1}) for i, item in enumerate(raw)], dtype=float)


def _params(chart: str, raw, *, strict: bool) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ControlChartError("params", _("Expected an object of settings."))
    unknown = sorted(str(key) for key in raw if key not in CHART_PARAMS[chart])
    if unknown and strict:
        raise ControlChartError(
            "params",
            _("Unknown setting %(names)s for this chart; it takes %(allowed)s.")
            % {"names": ", ".join(unknown), "allowed": ", ".join(CHART_PARAMS[chart])},
        )
    return raw


def _param(params: dict, name: str, default=None, *, positive=False, minimum=None, maximum=None):
    if params.get(name) is None:
        return default
    value = _number(params[name], "params", name)
    if positive and value <= 0:
        raise ControlChartError("params", _("%(name)s must be greater than 0.") % {"name": name})
    if minimum is not None and value < minimum:
        raise ControlChartError("params", _("%(name)s must be at least %(min)s.") % {"name": name, "min": minimum})
    if maximum is not None and value > maximum:
        raise ControlChartError("params", _("%(name)s must be at most %(max)s.") % {"name": name, "max": maximum})
    return value


def _need(values: np.ndarray, n: int, why: str) -> None:
    if len(values) < n:
        raise ControlChartError("values", _("At least %(n)d points are needed (%(why)s).") % {"n": n, "why": why})


# Shared pieces


def _beyond(statistic: float, lcl: float, ucl: float) -> bool:
    return bool(statistic > ucl + _EDGE * max(1.0, abs(ucl)) or statistic < lcl - _EDGE * max(1.0, abs(lcl)))


def _points(values, statistics, lcl, ucl, **extra) -> list[dict]:
    n = len(values)
    lcl = np.broadcast_to(np.asarray(lcl, dtype=float), (n,))
    ucl = np.broadcast_to(np.asarray(ucl, dtype=float), (n,))
    points = []
    for i in range(n):
        point = {
            "index": i + 1,
            "value": float(values[i]),
            "statistic": float(statistics[i]),
            "lcl": float(lcl[i]),
            "ucl": float(ucl[i]),
            "signal": _beyond(float(statistics[i]), float(lcl[i]), float(ucl[i])),
        }
        for name, column in extra.items():
            point[name] = float(column[i])
        points.append(point)
    return points


def _moving_range_sigma(values: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(values)))) / D2


def _result(chart: str, center: float, points: list[dict], params: dict) -> dict:
    return {"chart": chart, "center": float(center), "params": params, "points": points}


# The charts


def _p(values, sizes, params, *, laney: bool) -> tuple[float, list[dict], dict]:
    width = params["L"]
    pbar = float(values.sum() / sizes.sum())
    p = values / sizes
    sigma = np.sqrt(pbar * (1.0 - pbar) / sizes)
    if laney:
        params["sigma_z"] = _sigma_z(p, pbar, sigma)
        sigma = sigma * params["sigma_z"]
    lcl = np.maximum(pbar - width * sigma, 0.0)
    ucl = np.minimum(pbar + width * sigma, 1.0)
    return pbar, _points(values, p, lcl, ucl), params


def _u(values, sizes, params, *, laney: bool) -> tuple[float, list[dict], dict]:
    width = params["L"]
    ubar = float(values.sum() / sizes.sum())
    u = values / sizes
    sigma = np.sqrt(ubar / sizes)
    if laney:
        params["sigma_z"] = _sigma_z(u, ubar, sigma)
        sigma = sigma * params["sigma_z"]
    lcl = np.maximum(ubar - width * sigma, 0.0)
    return ubar, _points(values, u, lcl, ubar + width * sigma), params


def _sigma_z(rates: np.ndarray, center: float, sigma: np.ndarray) -> float:
    # All subgroups at a rate of 0 (or p of 1) have no spread to standardise: z = 0.
    z = np.divide(rates - center, sigma, out=np.zeros_like(rates), where=sigma > 0)
    return _moving_range_sigma(z)


def _np(values, sizes, params) -> tuple[float, list[dict], dict]:
    n = float(sizes[0])
    if np.any(sizes != n):
        raise ControlChartError("sizes", _("An np chart needs one constant subgroup size; use a p chart."))
    pbar = float(values.sum() / sizes.sum())
    sigma = math.sqrt(n * pbar * (1.0 - pbar))
    width = params["L"]
    lcl, ucl = max(n * pbar - width * sigma, 0.0), min(n * pbar + width * sigma, n)
    params["n"] = n
    return n * pbar, _points(values, values, lcl, ucl), params


def _c(values, params) -> tuple[float, list[dict], dict]:
    cbar = float(values.mean())
    sigma = math.sqrt(cbar)
    width = params["L"]
    return cbar, _points(values, values, max(cbar - width * sigma, 0.0), cbar + width * sigma), params


def _xmr(values, params) -> tuple[float, list[dict], dict]:
    _need(values, 2, _("a moving range needs two"))
    center = float(values.mean())
    sigma = _moving_range_sigma(values)
    width = params["L"]
    params["sigma"] = sigma
    return center, _points(values, values, center - width * sigma, center + width * sigma), params


def _target_sigma(values, raw: dict, params: dict, *, need_sigma: bool = True) -> tuple[float, float | None]:
    target = _param(raw, "target")
    sigma = _param(raw, "sigma", positive=True)
    if target is None:
        target = float(values.mean())
    if sigma is None and need_sigma:
        _need(values, 2, _("sigma is estimated from the moving range"))
        sigma = _moving_range_sigma(values)
    params["target"], params["sigma"] = target, sigma
    return target, sigma


def _ewma(values, raw, params) -> tuple[float, list[dict], dict]:
    lam = _param(raw, "lambda", 0.2, positive=True, maximum=1.0)
    width = params["L"]
    limits = raw.get("limits") or "asymptotic"
    if limits not in EWMA_LIMITS:
        raise ControlChartError("params", _("limits must be one of %(names)s.") % {"names": ", ".join(EWMA_LIMITS)})
    target, sigma = _target_sigma(values, raw, params)
    params.update({"lambda": lam, "limits": limits})
    z = np.empty_like(values)
    previous = target
    for i, x in enumerate(values):
        previous = lam * x + (1.0 - lam) * previous
        z[i] = previous
    spread = lam / (2.0 - lam)
    if limits == "exact":
        steps = np.arange(1, len(values) + 1)
        # (1 - lambda)^(2i) underflows to 0 harmlessly on long series.
        spread = spread * (1.0 - np.power(1.0 - lam, 2 * steps))
    half = width * sigma * np.sqrt(spread)
    return target, _points(values, z, target - half, target + half), params


def _cusum(values, raw, params) -> tuple[float, list[dict], dict]:
    k = _param(raw, "k", positive=True)
    h = _param(raw, "h", positive=True)
    target, sigma = _target_sigma(values, raw, params, need_sigma=k is None or h is None)
    if k is None or h is None:
        # A flat series estimates sigma = 0: then any move off the target is a signal.
        k = 0.5 * sigma if k is None else k
        h = 5.0 * sigma if h is None else h
    params.update({"k": k, "h": h})
    hi, lo = np.empty_like(values), np.empty_like(values)
    s_hi = s_lo = 0.0
    for i, x in enumerate(values):
        s_hi = max(0.0, s_hi + x - target - k)
        s_lo = max(0.0, s_lo + target - k - x)
        hi[i], lo[i] = s_hi, s_lo
    statistic = np.where(hi >= lo, hi, -lo)
    return target, _points(values, statistic, -h, h, s_hi=hi, s_lo=lo), params


def _poisson(values, sizes, raw, params) -> tuple[float, list[dict], dict]:
    if np.any(values != np.floor(values)):
        raise ControlChartError("values", _("A Poisson test needs whole counts."))
    rate = _param(raw, "rate", minimum=0.0)
    alpha = _param(raw, "alpha", 0.001, positive=True, maximum=1.0)
    min_count = math.ceil(_param(raw, "min_count", 3.0, minimum=0.0))
    if rate is None:
        rate = float(values.sum() / sizes.sum())
    params.update({"rate": rate, "alpha": alpha, "min_count": min_count})
    expected = rate * sizes
    tail = stats.poisson.sf(values - 1.0, expected)  # P(X >= value)
    ucl = _poisson_threshold(expected, alpha)
    ucl = np.maximum(ucl, min_count) - 1.0
    points = _points(values, tail, 0.0, ucl, expected=expected)
    for point, p in zip(points, tail, strict=True):
        # The test itself decides; ucl only shows it on the count scale.
        point["signal"] = bool(p < alpha and point["value"] >= min_count)
    return rate, points, params


def _poisson_threshold(mu: np.ndarray, alpha: float) -> np.ndarray:
    """The smallest count c with P(X >= c) < alpha, by the same sf as the test; isf
    gives it up to rounding, the two loops settle the edge."""
    c = np.nan_to_num(stats.poisson.isf(alpha, mu), nan=0.0)
    c = np.where(mu > 0, np.maximum(c, 0.0), 1.0)  # mean 0: any count is an excess
    for _round in range(50):
        down = (c > 0) & (stats.poisson.sf(c - 2.0, mu) < alpha)
        if not down.any():
            break
        c = c - down
    for _round in range(50):
        up = stats.poisson.sf(c - 1.0, mu) >= alpha
        if not up.any():
            break
        c = c + up
    return c


def chart_compute(
    chart: str, values: Sequence[float], sizes: Sequence[float] | None = None, params=None, *, strict: bool = False
) -> dict:
    """Compute one control chart; raises ControlChartError(field, reason) on bad input
    (with strict=True also on a setting the chart does not take)."""
    if not isinstance(chart, str) or chart not in CHARTS:
        raise ControlChartError("chart", _("chart must be one of %(names)s.") % {"names": ", ".join(CHARTS)})
    raw = _params(chart, params, strict=strict)
    values = _series(values, "values")
    if chart in COUNTS and np.any(values < 0):
        raise ControlChartError("values", _("Counts cannot be negative."))
    if chart in SIZED:
        if sizes is None:
            raise ControlChartError("sizes", _("This chart needs the subgroup sizes (or exposures)."))
        sizes = _series(sizes, "sizes")
        if len(sizes) != len(values):
            raise ControlChartError("sizes", _("Give one size per value."))
        if np.any(sizes <= 0):
            raise ControlChartError("sizes", _("Every size must be greater than 0."))
        if chart in ("p", "np", "laney_p") and np.any(values > sizes):
            raise ControlChartError("values", _("Defectives cannot exceed the subgroup size."))
    used: dict = {}
    if chart not in ("cusum", "poisson"):
        used["L"] = _param(raw, "L", 3.0, positive=True)
    with np.errstate(all="ignore"):
        if chart in ("p", "laney_p"):
            if chart == "laney_p":
                _need(values, 2, _("Laney's sigma_z is a moving range"))
            center, points, used = _p(values, sizes, used, laney=chart == "laney_p")
        elif chart in ("u", "laney_u"):
            if chart == "laney_u":
                _need(values, 2, _("Laney's sigma_z is a moving range"))
            center, points, used = _u(values, sizes, used, laney=chart == "laney_u")
        elif chart == "np":
            center, points, used = _np(values, sizes, used)
        elif chart == "c":
            center, points, used = _c(values, used)
        elif chart == "xmr":
            center, points, used = _xmr(values, used)
        elif chart == "ewma":
            center, points, used = _ewma(values, raw, used)
        elif chart == "cusum":
            center, points, used = _cusum(values, raw, used)
        else:
            center, points, used = _poisson(values, sizes, raw, used)
    result = _result(chart, center, points, used)
    if not _finite(result):
        # Only extreme magnitudes get here (sums overflowing a float); JSON has no inf.
        raise ControlChartError("values", _("The numbers are too large to chart."))
    return result


def _finite(result: dict) -> bool:
    numbers = [result["center"], *(v for v in result["params"].values() if isinstance(v, float))]
    for point in result["points"]:
        numbers.extend(v for v in point.values() if isinstance(v, float))
    return all(math.isfinite(v) for v in numbers)


def last_point_signal(result: dict) -> dict | None:
    """The last point with its limits and the chart's center when it signals, else None.
    ``direction`` says which side: "high" (above the UCL, or a rising cusum / Poisson
    excess) or "low"."""
    if not result["points"] or not result["points"][-1]["signal"]:
        return None
    point = dict(result["points"][-1])
    if result["chart"] == "cusum":
        high = point["s_hi"] >= point["s_lo"]
    else:
        high = result["chart"] == "poisson" or point["statistic"] > point["ucl"]
    return {**point, "center": result["center"], "direction": "high" if high else "low"}

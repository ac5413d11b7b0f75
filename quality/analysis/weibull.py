"""Two-parameter Weibull fits with right-censored data (suspensions).

Conventions (README "Reliability analytics"):

- Model: F(t) = 1 - exp(-(t/eta)^beta), location fixed at 0; times in any unit > 0.
- ``mle``: maximum likelihood with suspensions. The profile score equation in beta,
  1/beta + mean(ln t_f) - sum(t^beta ln t) / sum(t^beta) = 0 (sums over failures and
  suspensions), is solved with scipy.optimize.brentq; eta = (sum t^beta / r)^(1/beta).
  This is the same optimum as scipy.stats.weibull_min.fit(CensoredData, floc=0), only
  exact to machine precision and fast on 100k lifetimes.
- Confidence bounds (MLE only): Fisher-matrix bounds from the observed information
  (the analytic Hessian at the optimum), two-sided, 90 % by default, on the log scale
  (beta * exp(+-z se/beta), eta likewise; B10 through the delta method on ln B10).
  Rank-regression fits have no Fisher bounds: their bounds are null.
- ``rrx`` / ``rry``: least squares on Weibull paper, x = ln t, y = ln(-ln(1 - F)),
  plotting positions by Benard's median-rank approximation F = (i - 0.3) / (n + 0.4);
  with suspensions the rank i is Johnson's adjusted rank (a suspension tied with a
  failure is ranked after it). RRY regresses y on x, RRX x on y.
- B10 life: the time by which 10 % have failed, eta * (-ln 0.9)^(1/beta).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from django.utils.translation import gettext as _
from scipy import optimize, stats

from catalog.exceptions import ApplicationError

METHODS = ("mle", "rrx", "rry")
DEFAULT_CONFIDENCE = 0.90
# A sane cap on the lifetimes one request may fit.
MAX_LIFETIMES = 100_000


@dataclass(frozen=True)
class WeibullFit:
    method: str
    beta: float
    eta: float
    b10: float
    n_failures: int
    n_suspensions: int
    confidence: float | None = None
    beta_lower: float | None = None
    beta_upper: float | None = None
    eta_lower: float | None = None
    eta_upper: float | None = None
    b10_lower: float | None = None
    b10_upper: float | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def weibull_cdf(t, *, beta: float, eta: float):
    return -np.expm1(-np.power(np.asarray(t, dtype=float) / eta, beta))


def weibull_b_life(p: float, *, beta: float, eta: float) -> float:
    """The time by which a fraction p has failed (B10: p = 0.10)."""
    return eta * (-math.log1p(-p)) ** (1.0 / beta)


def _refuse(field: str, message: str):
    raise ApplicationError(message, errors={field: [message]})


def _as_array(values: Sequence[float], field: str) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        _refuse(field, _("Every time must be a finite number greater than 0."))
    return array


def weibull_check(failures, suspensions) -> tuple[np.ndarray, np.ndarray]:
    """The lifetimes as arrays, or an ApplicationError naming the field."""
    f = _as_array(failures, "failures")
    s = _as_array(suspensions, "suspensions")
    if f.size + s.size > MAX_LIFETIMES:
        _refuse("failures", _("At most %(n)d times in all.") % {"n": MAX_LIFETIMES})
    if f.size < 2:
        _refuse("failures", _("A 2-parameter fit needs at least 2 failures."))
    return f, s


def _mle(f: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    t = np.concatenate([f, s])
    log_t = np.log(t)
    log_max = log_t.max()
    mean_log_f = float(np.log(f).mean())
    if mean_log_f >= log_max - 1e-12:
        _refuse("failures", _("The failures must not all lie at the longest time."))

    def score(beta: float) -> float:
        # Weights scaled by t_max^beta so that large beta does not overflow.
        w = np.exp(beta * (log_t - log_max))
        return 1.0 / beta + mean_log_f - float(np.dot(w, log_t) / w.sum())

    # score falls from +inf (beta -> 0) to mean_log_f - log_max < 0; bracket the root.
    lo, hi = 0.5, 2.0
    while score(lo) < 0 and lo > 1e-6:
        lo /= 4
    while score(hi) > 0 and hi < 1e6:
        hi *= 4
    beta = optimize.brentq(score, lo, hi, xtol=1e-14, rtol=1e-14, maxiter=500)
    w = np.exp(beta * (log_t - log_max))
    eta = math.exp(log_max + math.log(w.sum() / f.size) / beta)
    return beta, eta


def _fisher_bounds(f, s, beta, eta, confidence) -> dict:
    """Fisher-matrix bounds: inverse of the observed information at the MLE."""
    t = np.concatenate([f, s])
    r = f.size
    z = np.log(t / eta)
    w = np.exp(beta * z)
    d2_bb = -r / beta**2 - float(np.dot(w, z * z))
    d2_ee = (beta / eta**2) * (r - (1 + beta) * w.sum())
    d2_be = (-r + w.sum() + beta * float(np.dot(w, z))) / eta
    info = -np.array([[d2_bb, d2_be], [d2_be, d2_ee]])
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return {}
    var_b, var_e, cov_be = cov[0, 0], cov[1, 1], cov[0, 1]
    if not (var_b > 0 and var_e > 0):
        return {}
    k = stats.norm.ppf(0.5 + confidence / 2)
    sb, se = math.sqrt(var_b) / beta, math.sqrt(var_e) / eta
    b10 = weibull_b_life(0.10, beta=beta, eta=eta)
    c = math.log(-math.log(0.9))
    # ln B10 = ln eta + c / beta; gradient (d/d beta, d/d eta) = (-c / beta^2, 1 / eta).
    var_lb = var_e / eta**2 + (c**2 / beta**4) * var_b - 2 * c / (eta * beta**2) * cov_be
    slb = math.sqrt(max(var_lb, 0.0))
    return {
        "confidence": confidence,
        "beta_lower": beta * math.exp(-k * sb),
        "beta_upper": beta * math.exp(k * sb),
        "eta_lower": eta * math.exp(-k * se),
        "eta_upper": eta * math.exp(k * se),
        "b10_lower": b10 * math.exp(-k * slb),
        "b10_upper": b10 * math.exp(k * slb),
    }


def median_ranks(f: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted failure times, Benard median ranks with Johnson's adjusted ranks)."""
    t = np.concatenate([f, s])
    failed = np.concatenate([np.ones(f.size, bool), np.zeros(s.size, bool)])
    # Sort by time; at a tie the failure comes first (flag True sorts after False, so
    # sort on ~failed).
    order = np.lexsort((~failed, t))
    t, failed = t[order], failed[order]
    n = t.size
    reverse = n - np.arange(n)  # reverse rank of each position (n .. 1)
    fail_rev = reverse[failed]
    # Johnson: O_j = O_{j-1} + (n + 1 - O_{j-1}) / (1 + reverse rank). The recurrence is
    # linear, 1 - O_j/(n+1) = (1 - O_{j-1}/(n+1)) * rev/(1 + rev), so a cumulative product.
    ranks = (n + 1) * (1 - np.cumprod(fail_rev / (fail_rev + 1.0)))
    return t[failed], (ranks - 0.3) / (n + 0.4)


def _rank_regression(f, s, method) -> tuple[float, float]:
    times, probs = median_ranks(f, s)
    x = np.log(times)
    y = np.log(-np.log1p(-probs))
    if np.ptp(x) == 0:
        _refuse("failures", _("The failure times must not all be equal."))
    if method == "rry":
        slope, intercept = np.polyfit(x, y, 1)  # y = beta x - beta ln eta
        beta = float(slope)
        eta = math.exp(-intercept / beta)
    else:
        slope, intercept = np.polyfit(y, x, 1)  # x = y / beta + ln eta
        beta = 1.0 / float(slope)
        eta = math.exp(float(intercept))
    if not (beta > 0 and math.isfinite(beta) and math.isfinite(eta)):
        _refuse("failures", _("These times give no increasing Weibull line."))
    return beta, eta


def weibull_fit(
    *,
    failures: Sequence[float],
    suspensions: Sequence[float] = (),
    method: str = "mle",
    confidence: float = DEFAULT_CONFIDENCE,
) -> WeibullFit:
    if method not in METHODS:
        _refuse("method", _("method must be one of %(methods)s.") % {"methods": ", ".join(METHODS)})
    f, s = weibull_check(failures, suspensions)
    # The fit is scale-equivariant (beta unchanged, eta and B10 scale with t), so fit on
    # times divided by the longest one: no overflow whatever unit the caller uses.
    scale = float(max(f.max(), s.max() if s.size else 0.0))
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
            fs, ss = f / scale, s / scale
            beta, eta = _mle(fs, ss) if method == "mle" else _rank_regression(fs, ss, method)
            bounds = _fisher_bounds(fs, ss, beta, eta, confidence) if method == "mle" else {}
    except (ArithmeticError, FloatingPointError, ValueError, RuntimeError):
        _refuse("failures", _("These times cannot be fitted (too far apart to compute)."))
    for name in ("eta_lower", "eta_upper", "b10_lower", "b10_upper"):
        if name in bounds:
            bounds[name] *= scale
    eta *= scale
    b10 = weibull_b_life(0.10, beta=beta, eta=eta)
    if not all(math.isfinite(v) and v > 0 for v in (beta, eta, b10, *bounds.values())):
        _refuse("failures", _("These times cannot be fitted (too far apart to compute)."))
    return WeibullFit(
        method=method,
        beta=beta,
        eta=eta,
        b10=b10,
        n_failures=int(f.size),
        n_suspensions=int(s.size),
        **bounds,
    )


def weibull_plot(*, failures, suspensions=(), fits: Sequence[WeibullFit] = (), max_points: int = 500) -> dict:
    """Points and fitted lines on Weibull paper: x = ln t, y = ln(-ln(1 - F)).

    The plotted points are the median ranks (as for RRX/RRY); with more failures than
    max_points an evenly spaced subset is shown (the fit used them all)."""
    f, s = weibull_check(failures, suspensions)
    times, probs = median_ranks(f, s)
    if times.size > max_points:
        keep = np.unique(np.linspace(0, times.size - 1, max_points).round().astype(int))
        times, probs = times[keep], probs[keep]
    t_lo, t_hi = float(times.min()), float(max(times.max(), np.concatenate([f, s]).max()))
    grid = np.geomspace(t_lo * 0.8, t_hi * 1.25, 24)
    lines = []
    for fit in fits:
        lines.append(
            {
                "method": fit.method,
                "points": [
                    {"time": float(t), "x": float(np.log(t)), "y": float(fit.beta * (np.log(t) - np.log(fit.eta)))}
                    for t in grid
                ],
            }
        )
    return {
        "points": [
            {"time": float(t), "F": float(p), "x": float(np.log(t)), "y": float(np.log(-np.log1p(-p)))}
            for t, p in zip(times, probs, strict=True)
        ],
        "lines": lines,
    }

"""Nevada (warranty) charts: shipments per period x returns by months in service.

Conventions (README "Reliability analytics"): months in service (MIS) of a return is
the calendar-month difference between its return month and its sale (or production)
month, so a return in the month after the sale has MIS 1 and one in the sale month
MIS 0. Returns are read as first failures: each return takes its unit out of the
population; the units of a sale month that have not come back are suspended at the
cut-off's MIS (cut-off month - sale month). With these lifetimes the same Kaplan-
Meier and Weibull fits apply as for exact lifetimes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping


def month_index(month: str) -> int:
    """'YYYY-MM' -> a running month number."""
    year, mon = month[:7].split("-")
    return int(year) * 12 + int(mon) - 1


def month_label(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def nevada_lifetimes(
    *, shipped: Mapping[str, int], returns: Mapping[str, Mapping[str, int]], cutoff: str
) -> tuple[dict[int, int], dict[int, int]]:
    """(failures at each MIS, suspensions at each MIS) of a Nevada chart."""
    failures: Counter[int] = Counter()
    suspensions: Counter[int] = Counter()
    end = month_index(cutoff)
    for sale, n in shipped.items():
        start = month_index(sale)
        returned = 0
        for ret, count in (returns.get(sale) or {}).items():
            if count:
                failures[month_index(ret) - start] += count
                returned += count
        survivors = n - returned
        if survivors > 0:
            suspensions[end - start] += survivors
    return dict(sorted(failures.items())), dict(sorted(suspensions.items()))


def expand(counts: Mapping[int, int]) -> list[float]:
    """{time: count} -> the list of times (for the fits)."""
    return [float(t) for t, n in counts.items() for _ in range(n)]

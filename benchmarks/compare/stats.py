"""Paired comparison over seeds: the difference ours - reference, its 95% confidence interval and
the verdict.

Each seed trains both implementations, so seed s gives the pair (ours_s, reference_s) and the
difference d_s = ours_s - reference_s. With n seeds, d = mean(d_s), s.e. = stdev(d_s) / sqrt(n)
and the 95% CI is d +- t(0.975, n - 1) * s.e. (Student's t; n >= 2). Verdict, for a score where
higher is better and a margin delta > 0 (``--margin``, in the score's printed units):
- "equivalent": the CI lies within [-delta, +delta] (checked first: a difference the CI bounds
  below delta is not one the comparison calls better),
- "ours better": the CI lies above 0; "authors better": the CI lies below 0,
- "inconclusive": otherwise, and always with fewer than 2 seeds.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

CONFIDENCE = 0.95


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ours - reference over paired seeds, with its standard error and 95% CI."""

    n: int
    mean: float
    se: float
    low: float
    high: float


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (NaN s.e. for one value, NaN both for none)."""
    if not values:
        return math.nan, math.nan
    if len(values) == 1:
        return values[0], math.nan
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def paired_difference(ours: dict[int, float], reference: dict[int, float]) -> PairedDifference:
    """ours - reference over the seeds both have a finite score for (keys: seeds)."""
    from scipy.stats import t

    seeds = sorted(s for s in ours.keys() & reference.keys()
                   if math.isfinite(ours[s]) and math.isfinite(reference[s]))
    diffs = [ours[s] - reference[s] for s in seeds]
    mean, se = mean_se(diffs)
    if len(diffs) < 2:
        return PairedDifference(len(diffs), mean, se, math.nan, math.nan)
    half = t.ppf(0.5 + CONFIDENCE / 2, len(diffs) - 1) * se
    return PairedDifference(len(diffs), mean, se, mean - half, mean + half)


def verdict(diff: PairedDifference, margin: float) -> str:
    """The stated rule (module docstring) applied to a paired difference."""
    if diff.n < 2 or math.isnan(diff.low):
        return "inconclusive"
    if -margin <= diff.low and diff.high <= margin:
        return "equivalent"
    if diff.low > 0:
        return "ours better"
    if diff.high < 0:
        return "authors better"
    return "inconclusive"

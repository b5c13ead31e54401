"""Student t-tests over seeds, for the claims section: two runs are paired by their seed.

Two-sided, as the t statistic's distribution with n - 1 degrees of freedom gives it. With the
benchmark's 3 seeds (2 degrees of freedom) |t| must exceed 4.30 for p < 0.05: a real difference
of one seed standard deviation is rarely found, so "not significant" is weak evidence either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05  # two-sided significance level of every claim's test
ROUNDING = 1e-12  # metrics lie in [0, 1]: a spread or shift below this is floating-point rounding


@dataclass(frozen=True)
class TTest:
    n: int  # number of values (paired: seeds both sides ran)
    mean: float  # mean of the values (paired: of the differences a - b)
    t: float  # NaN when n < 2
    p: float  # two-sided; NaN when n < 2

    @property
    def significant(self) -> bool:
        return bool(self.p < ALPHA)  # False for NaN

    def text(self) -> str:
        if self.n < 2:
            return f"n={self.n}: no test"
        return f"n={self.n}, t={self.t:.2f}, p={self.p:.3g}"


def t_test(values: np.ndarray, mu: float = 0.0) -> TTest:
    """One-sample t-test of mean(values) = mu; no spread gives p = 1 (all equal mu) or 0 (a certain shift)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return TTest(n, mean, math.nan, math.nan)
    shift = mean - mu
    sd = float(values.std(ddof=1))
    if sd <= ROUNDING:
        same = abs(shift) <= ROUNDING
        return TTest(n, mean, 0.0 if same else math.copysign(math.inf, shift), 1.0 if same else 0.0)
    t = shift / (sd / math.sqrt(n))
    return TTest(n, mean, t, float(2 * stats.t.sf(abs(t), n - 1)))


def paired_t_test(a: pd.Series, b: pd.Series) -> TTest:
    """Paired t-test of a - b over the seeds (index) both hold; the others are left out."""
    common = a.index.intersection(b.index).sort_values()
    return t_test(a[common].to_numpy(dtype=float) - b[common].to_numpy(dtype=float))


def relative_gains(a: pd.Series, b: pd.Series) -> np.ndarray:
    """a / b - 1 per seed both hold (the relative improvement of a over b, seed by seed)."""
    common = a.index.intersection(b.index).sort_values()
    return a[common].to_numpy(dtype=float) / b[common].to_numpy(dtype=float) - 1.0

"""Bounds shared by the statistical tests.

Every statistical check that uses these helpers has a per-check
false-failure probability of `DELTA = 1e-8`; the core-op files make fewer
than 100 such checks, so by the union bound a correct implementation fails
them with probability below 1e-6 in all. Other files (estimators, layers,
callbacks) size their own checks, each below 1e-6, and say how.
"""

import math

import numpy as np
from scipy import stats

DELTA = 1e-8


def hoeffding(n, delta=DELTA):
    """Two-sided Hoeffding bound for the mean of `n` draws in [0, 1]."""
    return math.sqrt(math.log(2.0 / delta) / (2.0 * n))


def assert_chi_square(counts, probs, delta=DELTA):
    """Chi-square goodness of fit of `counts` to `probs` (zero probs: zero)."""
    counts = np.asarray(counts, np.float64)
    probs = np.asarray(probs, np.float64)
    zero = probs == 0
    assert np.all(counts[zero] == 0), f"drew impossible categories: {counts}"
    n = counts.sum()
    expected = n * probs[~zero]
    statistic = np.sum((counts[~zero] - expected) ** 2 / expected)
    df = int((~zero).sum()) - 1
    limit = stats.chi2.isf(delta, df)
    assert statistic < limit, (
        f"chi-square {statistic:.1f} >= {limit:.1f} (df={df}); counts={counts}, "
        f"expected={expected}")


def assert_ks_1samp(samples, cdf, delta=DELTA):
    """Kolmogorov-Smirnov test of `samples` against the CDF `cdf`."""
    result = stats.kstest(np.asarray(samples, np.float64), cdf)
    assert result.pvalue > delta, f"KS statistic {result.statistic}, p={result.pvalue}"


def assert_ks_2samp(a, b, delta=DELTA):
    """Two-sample Kolmogorov-Smirnov test."""
    result = stats.ks_2samp(np.asarray(a, np.float64), np.asarray(b, np.float64))
    assert result.pvalue > delta, f"KS statistic {result.statistic}, p={result.pvalue}"

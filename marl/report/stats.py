"""Estimates over seeds with rliable: mean, IQM and 95% stratified-bootstrap CIs.

rliable (Agarwal et al., NeurIPS 2021) resamples runs within each task; here a cell's
seeds are the runs of one task. Its resampling is seeded, so a report is reproducible.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

DEFAULT_REPS = 2000  # bootstrap replications: enough for 2-decimal CI bounds


@dataclass(frozen=True)
class Estimate:
    n: int
    mean: float
    std: float
    iqm: float
    ci_low: float  # 95% CI of the mean
    ci_high: float


def _bootstrap_ci(runs: np.ndarray, func, reps: int, seed: int) -> np.ndarray:
    """rliable's stratified-bootstrap 95% CI of `func(runs)`: [2 (low, high), ...]."""
    from rliable import library

    # rliable's stratified resampling draws from NumPy's global generator (its
    # random_state reaches only arch's own draws): seed that one, and put it back after.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():
            # arch, under rliable, warns that a RandomState will one day need another keyword.
            warnings.simplefilter("ignore", FutureWarning)
            _, intervals = library.get_interval_estimates(
                {"cell": runs}, func, reps=reps, random_state=np.random.RandomState(seed)
            )
    finally:
        np.random.set_state(saved)
    return intervals["cell"]


def final_scores(values: np.ndarray, last: int) -> np.ndarray:
    """Per seed, the mean of its last `last` chunks that have a value: [seeds, chunks] ->
    [seeds] (NaN for a seed with no value there)."""
    tail = values[:, -last:]
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(tail).sum(1)
        sums = np.where(np.isfinite(tail), tail, 0.0).sum(1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def estimate(scores: np.ndarray, reps: int = DEFAULT_REPS, seed: int = 0) -> Estimate | None:
    """Mean, std, IQM and the 95% CI of the mean of per-seed scores (NaNs dropped), or None
    when no seed has a score. With one seed the CI is the point itself."""
    scores = np.asarray(scores, np.float64)
    scores = scores[np.isfinite(scores)]
    if not scores.size:
        return None
    from rliable import metrics

    runs = scores.reshape(-1, 1)  # [runs, tasks]
    mean, iqm = float(scores.mean()), float(metrics.aggregate_iqm(runs))
    if scores.size == 1:
        low = high = mean
    else:
        interval = _bootstrap_ci(runs, lambda x: np.array([metrics.aggregate_mean(x)]), reps, seed)
        low, high = (float(v) for v in interval[:, 0])
    return Estimate(scores.size, mean, float(scores.std()), iqm, low, high)


def curve_band(values: np.ndarray, reps: int = DEFAULT_REPS, seed: int = 0) -> tuple:
    """Per chunk, the mean over seeds and the 95% CI of that mean: values [seeds, chunks]
    -> (mean, low, high), each [chunks]; chunks without a value are NaN. reps=0: the
    mean only (low = high = mean)."""
    values = np.asarray(values, np.float64)
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(values), values, np.nan), 0)
    low, high = mean.copy(), mean.copy()
    complete = np.isfinite(values).all(0)
    if reps and values.shape[0] > 1 and complete.any():
        runs = values[:, None, complete]  # [runs, tasks, chunks]
        low[complete], high[complete] = _bootstrap_ci(
            runs, lambda x: x.mean(axis=(0, 1)), reps, seed
        )
    return mean, low, high

"""alpha-Rank under incomplete information: Rowland et al. 2019, "Multiagent Evaluation
under Incomplete Information" (NeurIPS).

Payoffs are estimated from noisy episodes. `bootstrap` turns per-episode samples into
intervals on `pi` and on rank positions; `response_graph_ucb` samples adaptively until the
direction of every edge of the response graph is known with confidence 1 - delta, which is
all the infinite-alpha ranking depends on. Both rank with `marl.evaluation.alpharank`
(Omidshafiei et al. 2019), in its payoff formats.

Only numpy and scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from marl.evaluation.alpharank import (
    AlphaRankResult,
    Profile,
    _check_settings,
    _describe,
    alpharank,
)

Entry = tuple[int, Profile]  # (population, profile): the payoff to that population there
TIE = 2  # an edge's direction when its two payoffs are equal within `tie_margin`


# --------------------------------------------------------------------------- results


@dataclass
class BootstrapRanks:
    """alpha-Rank under resampled payoff tables (Rowland et al. 2019's uncertainty).

    Per profile: pi_mean and the central `ci` percentile interval [pi_low, pi_high] of pi;
    the rank interval [rank_low, rank_high] (percentiles of the rank position, 1 = first,
    taken outward: lower rank number with method "lower", upper with "higher"); p_first the
    fraction of resamples ranking it first (ties for first all count). point is alpha-Rank
    of the full-sample mean table; pis and ranks hold every resample.
    """

    pi_mean: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    p_first: np.ndarray
    pis: np.ndarray  # [n_boot, P]
    ranks: np.ndarray  # [n_boot, P]
    point: AlphaRankResult
    ci: float
    profiles: list[Profile]
    labels: list[str] | None = None


@dataclass
class ResponseGraphResult:
    """What ResponseGraphUCB learned.

    edges[e] = (a, b, population): profiles a < b that differ in that population's
    strategy (single population: strategies a and b). directions[e] is +1 when b's
    mutant is fitter (arrow a -> b), -1 when a's is (arrow b -> a), TIE (2) when both
    payoffs were pinned within `tie_margin` of each other, 0 if unresolved when sampling
    stopped. edge_entries[e] = (entry compared for a, entry compared for b).
    entries, counts, means, lower, upper: every payoff entry the graph needs with its
    sample count, empirical mean and final confidence interval. means_table holds the
    means in the payoff format (a single population's diagonal, which no edge compares,
    is 0). pi / ranking: infinite-alpha alpha-Rank of means_table.
    """

    shape: tuple[int, ...]
    single_population: bool
    profiles: list[Profile]
    edges: list[tuple[int, int, int]]
    edge_entries: list[tuple[Entry, Entry]]
    directions: np.ndarray
    entries: list[Entry]
    counts: np.ndarray
    means: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    total_samples: int
    rounds: int
    means_table: Any
    alpharank: AlphaRankResult
    labels: list[str] | None = None
    unresolved: list[tuple[int, int, int]] = field(default_factory=list)
    ties: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def resolved(self) -> bool:
        """True when every edge's direction is known."""
        return not self.unresolved

    @property
    def pi(self) -> np.ndarray:
        """Infinite-alpha alpha-Rank pi of the mean payoffs."""
        return self.alpharank.pi

    def arrows(self) -> list[tuple[int, int]]:
        """Resolved edges as (from, to): from the profile whose mutant loses to the other."""
        out = []
        for (a, b, _), d in zip(self.edges, self.directions, strict=True):
            if d == 1:
                out.append((a, b))
            elif d == -1:
                out.append((b, a))
        return out


# --------------------------------------------------------------------------- bootstrap


def bootstrap(
    samples,
    n_boot: int = 1000,
    *,
    alpha: float | None,
    rng: np.random.Generator | int | None = None,
    m: int = 50,
    local_selection: bool = True,
    inf_alpha: bool = False,
    eps: float = 1e-2,
    ci: float = 0.9,
    labels: Sequence | None = None,
) -> BootstrapRanks:
    """alpha-Rank with uncertainty from per-episode payoffs (Rowland et al. 2019).

    `samples` has the payoff table's layout with a 1-D array of per-episode payoffs per
    entry: a numpy object array ([S, S] for a single population, or a list of K object
    arrays [S_1, ..., S_K]), or, for equal counts, float arrays with a trailing sample
    axis ([S, S, n], or K arrays [S_1, ..., S_K, n]). A bare array is a single population;
    a list of K >= 2 tables is multi-population. Each resample draws every entry's
    episodes with replacement (independently across entries), averages them into a payoff
    table and runs `alpharank` on it with the given settings.
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not (0 < ci < 1):
        raise ValueError(f"ci must lie in (0, 1), got {ci!r}")
    _check_settings(alpha, m, eps, inf_alpha)
    entry_samples, shape, single = _sample_layout(samples)
    rng = np.random.default_rng(rng)
    settings = dict(m=m, local_selection=local_selection, inf_alpha=inf_alpha, eps=eps)

    means = _resampled_means(entry_samples, n_boot, rng)  # [n_boot, n_entries]
    point = alpharank(
        _table_from_entries([x.mean() for x in entry_samples], shape, single),
        alpha,
        labels=labels,
        **settings,
    )
    runs = [alpharank(_table_from_entries(row, shape, single), alpha, **settings) for row in means]
    pis = np.stack([r.pi for r in runs])
    ranks = np.stack([r.ranks for r in runs])
    lo, hi = 100 * (1 - ci) / 2, 100 * (1 + ci) / 2
    return BootstrapRanks(
        pi_mean=pis.mean(axis=0),
        pi_low=np.percentile(pis, lo, axis=0),
        pi_high=np.percentile(pis, hi, axis=0),
        rank_low=np.percentile(ranks, lo, axis=0, method="lower").astype(int),
        rank_high=np.percentile(ranks, hi, axis=0, method="higher").astype(int),
        p_first=np.mean(ranks == 1, axis=0),
        pis=pis,
        ranks=ranks,
        point=point,
        ci=float(ci),
        profiles=point.profiles,
        labels=point.labels,
    )


def _sample_layout(samples) -> tuple[list[np.ndarray], tuple[int, ...], bool]:
    """Per-entry 1-D sample arrays (tables concatenated in C order), table shape, single?"""
    if isinstance(samples, np.ndarray):
        tables, single = [samples], True
    elif isinstance(samples, (list, tuple)) and len(samples) >= 1:
        tables, single = [np.asarray(t) for t in samples], len(samples) == 1
    else:
        raise ValueError(
            f"samples: expected an array or a list of arrays, got {_describe(samples)}"
        )
    k = 2 if single else len(tables)  # axes of one payoff table
    entries, shapes = [], []
    for table in tables:
        if table.dtype == object:
            cells = [np.asarray(c, dtype=float).ravel() for c in table.ravel()]
            if any(np.asarray(c).ndim > 1 for c in table.ravel()):
                raise ValueError("samples: each entry must be a 1-D array of per-episode payoffs")
            table_shape = table.shape
        else:
            table = np.asarray(table, dtype=float)
            if table.ndim != k + 1:
                raise ValueError(
                    f"samples: a float array needs the table's {k} axes and a trailing sample "
                    f"axis, got shape {table.shape}"
                )
            table_shape = table.shape[:-1]
            cells = list(table.reshape(-1, table.shape[-1]))
        if len(table_shape) != k:
            raise ValueError(f"samples: table with {len(table_shape)} axes, expected {k}")
        for c in cells:
            if c.size == 0:
                raise ValueError("samples: an entry has no samples")
            if not np.all(np.isfinite(c)):
                raise ValueError("samples: non-finite payoffs (nan or inf)")
        entries.extend(cells)
        shapes.append(table_shape)
    if single and shapes[0][0] != shapes[0][1]:
        raise ValueError(f"single-population samples must be square [S, S, ...], got {shapes[0]}")
    if len(set(shapes)) != 1:
        raise ValueError(f"multi-population samples: mismatched shapes {shapes}")
    shape = (shapes[0][0],) if single else tuple(shapes[0])
    return entries, shape, single


def _resampled_means(
    entries: list[np.ndarray], n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    out = np.empty((n_boot, len(entries)))
    for e, x in enumerate(entries):
        out[:, e] = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    return out


def _table_from_entries(values, shape: tuple[int, ...], single: bool):
    values = np.asarray(values, dtype=float)
    if single:
        return values.reshape(shape[0], shape[0])
    return list(values.reshape((len(shape),) + tuple(shape)))


# --------------------------------------------------------------------------- ResponseGraphUCB


def response_graph_ucb(
    sample: Callable[[list[Entry]], Sequence[np.ndarray]],
    shape: Sequence[int],
    delta: float = 0.1,
    batch: int = 10,
    max_samples: int = 100_000,
    bound: str = "hoeffding",
    payoff_range: tuple[float, float] = (0.0, 1.0),
    rule: str = "count",
    tie_margin: float = 0.0,
    m: int = 50,
    eps: float = 1e-2,
    labels: Sequence | None = None,
) -> ResponseGraphResult:
    """ResponseGraphUCB (Rowland et al. 2019, "Multiagent Evaluation under Incomplete
    Information", Algorithm 1): sample until every response-graph edge has a direction.

    shape: `(S,)` for a single population, `(S_1, ..., S_K)` (K >= 2) otherwise. An edge
    joins two profiles that differ in one population k's strategy and compares the payoff
    entries (k, a) and (k, b); for a single population, strategies a and b and the entries
    (0, (a, b)) and (0, (b, a)), the payoffs of the local-selection model. An edge is
    resolved, its direction fixed for good, once the confidence intervals of its two
    entries are disjoint.

    Each round picks entries by `rule` among the unresolved edges, the paper's sampling
    schemes as we read them: "count" (count-based: per unresolved edge the entry with fewer
    samples, both on a tie), "exhaustive" (uniform-exhaustive: both entries of each
    unresolved edge), or "uniform" (every entry, the non-adaptive baseline). It calls
    `sample(entries)` with the chosen entries, each listed once, which returns one 1-D
    array of new payoffs per entry (any length >= 1), and repeats the call for entries
    with fewer than `batch` new samples this round. It stops when every edge is resolved,
    or at the start of a round once `max_samples` samples have been drawn.

    Confidence intervals hold for all entries and all sample counts at once with
    probability >= 1 - delta: entry e after n samples uses level delta / (E n (n + 1))
    (E entries; the n(n+1) terms sum to 1 over n, so stopping on the data is allowed).
    bound="hoeffding": mean +- R sqrt(log(2 E n (n + 1) / delta) / (2 n)), R the width of
    `payoff_range`; bound="clopper-pearson": the exact binomial interval at that level, for
    payoffs that only take the two ends of `payoff_range` (Bernoulli outcomes). Intervals
    are clipped to `payoff_range`; samples outside it raise ValueError.

    Two payoffs that are exactly equal never separate, so the paper's algorithm samples
    their edge until the budget is spent. `tie_margin` > 0 (our addition; 0 is the paper's
    rule) declares such an edge a tie once both intervals fit in a band that wide.
    """
    if not tie_margin >= 0:
        raise ValueError(f"tie_margin must be >= 0; got {tie_margin}")
    shape, single = _check_rg_settings(shape, delta, batch, max_samples, bound, payoff_range, rule)
    profiles = [tuple(int(i) for i in p) for p in np.ndindex(*shape)]
    edges, edge_entries = _response_graph_edges(shape, single)
    entries = sorted({e for pair in edge_entries for e in pair})
    where = {e: i for i, e in enumerate(entries)}
    pair_index = np.array([[where[a], where[b]] for a, b in edge_entries], dtype=int).reshape(-1, 2)
    lo, hi = (float(x) for x in payoff_range)
    counts = np.zeros(len(entries), dtype=np.int64)
    sums = np.zeros(len(entries))
    tops = np.zeros(len(entries))  # samples at the top of the range, for Clopper-Pearson
    directions = np.zeros(len(edges), dtype=int)
    rounds = 0
    lower, upper = np.full(len(entries), lo), np.full(len(entries), hi)
    while np.any(directions == 0) and counts.sum() < max_samples:
        chosen = _choose_entries(rule, pair_index, directions, counts, len(entries))
        _draw(sample, entries, chosen, batch, counts, sums, tops, (lo, hi), bound)
        rounds += 1
        lower, upper = _intervals(counts, sums, tops, delta, bound, (lo, hi))
        _resolve(directions, pair_index, lower, upper, tie_margin)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), (lo + hi) / 2)
    table = _means_table(entries, means, shape, single)
    ranked = alpharank(table, None, m=m, inf_alpha=True, eps=eps, labels=labels)
    return ResponseGraphResult(
        shape=shape,
        single_population=single,
        profiles=profiles,
        edges=edges,
        edge_entries=edge_entries,
        directions=directions,
        entries=entries,
        counts=counts,
        means=means,
        lower=lower,
        upper=upper,
        total_samples=int(counts.sum()),
        rounds=rounds,
        means_table=table,
        alpharank=ranked,
        labels=ranked.labels,
        unresolved=[edge for edge, d in zip(edges, directions, strict=True) if d == 0],
        ties=[edge for edge, d in zip(edges, directions, strict=True) if d == TIE],
    )


def _check_rg_settings(shape, delta, batch, max_samples, bound, payoff_range, rule):
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"shape: need strategy counts >= 1, got {shape}")
    if not (0 < delta < 1):
        raise ValueError(f"delta must lie in (0, 1), got {delta!r}")
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if not max_samples > 0:
        raise ValueError(f"max_samples must be positive, got {max_samples!r}")
    if bound not in ("hoeffding", "clopper-pearson"):
        raise ValueError(f"bound must be 'hoeffding' or 'clopper-pearson', got {bound!r}")
    if rule not in ("count", "exhaustive", "uniform"):
        raise ValueError(f"rule must be 'count', 'exhaustive' or 'uniform', got {rule!r}")
    lo, hi = payoff_range
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(
            f"payoff_range must be finite (low, high) with low < high, got {payoff_range}"
        )
    return shape, len(shape) == 1


def _response_graph_edges(shape: tuple[int, ...], single: bool):
    """Edges (a, b, population) with a < b, and the payoff entries each compares."""
    edges, pairs = [], []
    if single:
        for a in range(shape[0]):
            for b in range(a + 1, shape[0]):
                edges.append((a, b, 0))
                pairs.append(((0, (a, b)), (0, (b, a))))
        return edges, pairs
    profiles = [tuple(int(i) for i in p) for p in np.ndindex(*shape)]
    number = {p: i for i, p in enumerate(profiles)}
    for a, pa in enumerate(profiles):
        for k in range(len(shape)):
            for t in range(pa[k] + 1, shape[k]):
                pb = pa[:k] + (t,) + pa[k + 1 :]
                edges.append((a, number[pb], k))
                pairs.append(((k, pa), (k, pb)))
    return edges, pairs


def _choose_entries(rule, pair_index, directions, counts, n_entries) -> np.ndarray:
    if rule == "uniform":
        return np.arange(n_entries)
    open_pairs = pair_index[directions == 0]
    if rule == "exhaustive":
        return np.unique(open_pairs)
    ca, cb = counts[open_pairs[:, 0]], counts[open_pairs[:, 1]]
    picked = np.concatenate([open_pairs[ca <= cb, 0], open_pairs[cb <= ca, 1]])
    return np.unique(picked)


def _draw(sample, entries, chosen, batch, counts, sums, tops, payoff_range, bound) -> None:
    """Asks `sample` for the chosen entries until each has `batch` new samples."""
    lo, hi = payoff_range
    new = dict.fromkeys(chosen.tolist(), 0)
    while True:
        wanted = [i for i, got in new.items() if got < batch]
        if not wanted:
            return
        out = list(sample([entries[i] for i in wanted]))
        if len(out) != len(wanted):
            raise ValueError(f"sample returned {len(out)} arrays for {len(wanted)} entries")
        for i, x in zip(wanted, out, strict=True):
            x = np.asarray(x, dtype=float).ravel()
            if x.size == 0:
                raise ValueError(f"sample returned no payoffs for entry {entries[i]}")
            if not np.all(np.isfinite(x)) or np.any(x < lo) or np.any(x > hi):
                raise ValueError(
                    f"sample returned payoffs outside payoff_range {payoff_range} for entry "
                    f"{entries[i]}: the confidence bounds would not hold"
                )
            if bound == "clopper-pearson" and not np.all((x == lo) | (x == hi)):
                raise ValueError(
                    "bound='clopper-pearson' needs Bernoulli payoffs at the ends of payoff_range"
                )
            counts[i] += x.size
            sums[i] += x.sum()
            tops[i] += np.sum(x == hi)
            new[i] += x.size


def _intervals(counts, sums, tops, delta, bound, payoff_range):
    """Anytime confidence intervals for every entry (see response_graph_ucb)."""
    lo, hi = payoff_range
    n = np.maximum(counts, 1).astype(float)
    level = delta / (counts.size * n * (n + 1))  # per entry and per sample count
    if bound == "hoeffding":
        mean = sums / n
        half = (hi - lo) * np.sqrt(np.log(2.0 / level) / (2.0 * n))
        lower, upper = mean - half, mean + half
    else:
        from scipy.stats import beta

        k = tops
        low01 = np.where(k > 0, beta.ppf(level / 2, k, n - k + 1), 0.0)
        high01 = np.where(k < n, beta.ppf(1 - level / 2, k + 1, n - k), 1.0)
        lower, upper = lo + (hi - lo) * low01, lo + (hi - lo) * high01
    unseen = counts == 0
    lower = np.where(unseen, lo, np.clip(lower, lo, hi))
    upper = np.where(unseen, hi, np.clip(upper, lo, hi))
    return lower, upper


def _resolve(directions, pair_index, lower, upper, tie_margin: float = 0.0) -> None:
    """Fixes the direction of each open edge whose two intervals no longer overlap, and
    declares a tie (TIE) where both intervals fit in a band `tie_margin` wide."""
    a, b = pair_index[:, 0], pair_index[:, 1]
    open_ = directions == 0
    directions[open_ & (lower[b] > upper[a])] = 1
    directions[open_ & (upper[b] < lower[a])] = -1
    if tie_margin > 0:
        band = np.maximum(upper[a], upper[b]) - np.minimum(lower[a], lower[b])
        directions[(directions == 0) & (band <= tie_margin)] = TIE


def _means_table(entries, means, shape, single):
    if single:
        table = np.zeros((shape[0], shape[0]))
        for (_, (i, j)), v in zip(entries, means, strict=True):
            table[i, j] = v
        return table
    tables = [np.zeros(shape) for _ in shape]
    for (k, profile), v in zip(entries, means, strict=True):
        tables[k][profile] = v
    return tables

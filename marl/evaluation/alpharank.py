"""alpha-Rank: ranking strategies by the stationary distribution of an evolutionary chain.

Two papers define what is here:

- Omidshafiei et al. 2019, "alpha-Rank: Multi-Agent Evaluation by Evolution" (Sci. Rep.):
  a Markov chain over monomorphic populations, whose transitions are the fixation
  probabilities of single mutants under Fermi (logit) selection of strength `alpha` in
  populations of `m` individuals. Its stationary distribution `pi` is the ranking.
- Rowland et al. 2019, "Multiagent Evaluation under Incomplete Information" (NeurIPS):
  payoffs are estimated from noisy episodes. `bootstrap` turns per-episode samples into
  intervals on `pi` and on rank positions; `response_graph_ucb` samples adaptively until
  the direction of every edge of the response graph is known with confidence 1 - delta,
  which is all the infinite-alpha ranking depends on.

Payoff formats. Single population (a symmetric 2-player game): a square array `M[S, S]`,
`M[i, j]` the payoff to strategy i against j. Multi-population (K players, each its own
population): a list of K arrays of shape `[S_1, ..., S_K]`, table k the payoff to player k
at each profile (a stacked array `[K, S_1, ..., S_K]` is accepted too). Profiles are
numbered in C order of `np.ndindex(S_1, ..., S_K)`; a single population's profiles are
`(i,)`.

Only numpy, scipy and matplotlib (figures drawn on the Agg canvas without pyplot, as in
marl/plots.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.special import logsumexp

Profile = tuple[int, ...]
Entry = tuple[int, Profile]  # (population, profile): the payoff to that population there

# Two fitness values closer than this (relative to the payoff scale) are a tie in the
# infinite-alpha model: float noise in a mean must not decide a direction.
TIE_RTOL = 1e-12
# pi values closer than this are ties when ranking (RPS's 1/3s differ in the last bit).
RANK_DECIMALS = 12


# --------------------------------------------------------------------------- results


@dataclass
class AlphaRankResult:
    """alpha-Rank of one payoff table.

    pi[p] is the stationary mass of profile p: the alpha-Rank score (the paper ranks by it).
    ranking lists profile indices by decreasing pi, ties in index order; ranks[p] is p's
    rank position (1 = first; tied profiles share the better position). transition is the
    row-stochastic chain C; fixation[a, b] the probability that a single mutant turns
    monomorphic profile a into its neighbour b (0 where a and b are not neighbours).
    neutral_fixation is 1/m, the fixation probability of a neutral mutant.
    closed_classes counts the closed communicating classes of C's positive entries: 1 for
    a chain with a unique stationary distribution; more only where fixation probabilities
    underflowed to 0 (alpha too large for float64), and then pi is not meaningful.
    """

    pi: np.ndarray
    ranking: np.ndarray
    ranks: np.ndarray
    transition: np.ndarray
    fixation: np.ndarray
    neighbours: np.ndarray  # bool [P, P]: the two profiles differ in one population
    profiles: list[Profile]
    num_strategies: tuple[int, ...]
    single_population: bool
    alpha: float | None
    m: int
    inf_alpha: bool
    eps: float
    local_selection: bool
    closed_classes: int
    labels: list[str] | None = None

    @property
    def scores(self) -> np.ndarray:
        """The alpha-Rank score of each profile: its stationary mass pi."""
        return self.pi

    @property
    def neutral_fixation(self) -> float:
        """1/m: the fixation probability of a mutant no fitter than the residents."""
        return 1.0 / self.m

    @property
    def sound(self) -> bool:
        """True where the chain has a unique stationary distribution in float64."""
        return self.closed_classes == 1 and bool(np.all(np.isfinite(self.pi)))

    def names(self) -> list[str]:
        """Profile names: the labels if given, else the profile tuples."""
        return self.labels if self.labels is not None else [_profile_name(p) for p in self.profiles]


@dataclass
class AlphaSweep:
    """pi over a log-spaced sweep of alpha and the paper's large-alpha choice.

    pi[i] is the stationary distribution at alphas[i]; sound[i] whether that chain is
    numerically sound (AlphaRankResult.sound). chosen_index picks the alpha to report:
    see `sweep_alpha` for the criterion. converged is False when no sound alpha was
    confirmed by a larger sound one, in which case the choice is the largest sound alpha.
    """

    alphas: np.ndarray
    pi: np.ndarray  # [n_alpha, P]
    rankings: np.ndarray  # [n_alpha, P]
    sound: np.ndarray  # bool [n_alpha]
    chosen_index: int
    converged: bool
    rtol: float
    profiles: list[Profile]
    labels: list[str] | None = None

    @property
    def chosen_alpha(self) -> float:
        """The chosen large alpha."""
        return float(self.alphas[self.chosen_index])

    @property
    def chosen_pi(self) -> np.ndarray:
        """pi at the chosen alpha."""
        return self.pi[self.chosen_index]


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
    mutant is fitter (arrow a -> b), -1 when a's is (arrow b -> a), 0 if unresolved when
    sampling stopped. edge_entries[e] = (entry compared for a, entry compared for b).
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
            if d > 0:
                out.append((a, b))
            elif d < 0:
                out.append((b, a))
        return out


# --------------------------------------------------------------------------- input checks


def _as_tables(payoffs) -> tuple[list[np.ndarray], bool]:
    """Payoff tables as float arrays and whether the game is single-population."""
    if isinstance(payoffs, np.ndarray) and payoffs.ndim == 2:
        tables, single = [payoffs], True
    elif (
        isinstance(payoffs, np.ndarray)
        and payoffs.ndim >= 3
        and payoffs.shape[0] == payoffs.ndim - 1
    ):
        tables, single = list(payoffs), False
    elif isinstance(payoffs, (list, tuple)) and len(payoffs) == 1:
        tables, single = [np.asarray(payoffs[0])], True
    elif isinstance(payoffs, (list, tuple)) and len(payoffs) >= 2:
        tables, single = [np.asarray(t) for t in payoffs], False
    else:
        raise ValueError(
            "payoffs: expected a square [S, S] array (single population) or a list of K "
            f"arrays of shape [S_1, ..., S_K] (multi-population), got {_describe(payoffs)}"
        )
    tables = [_float_table(t) for t in tables]
    if single:
        if tables[0].ndim != 2 or tables[0].shape[0] != tables[0].shape[1]:
            raise ValueError(
                f"single-population payoff table must be square [S, S], got shape {tables[0].shape}"
            )
        return tables, True
    k = len(tables)
    shapes = {t.shape for t in tables}
    if len(shapes) != 1 or tables[0].ndim != k:
        raise ValueError(
            f"multi-population payoffs: mismatched shapes {[t.shape for t in tables]}; "
            f"{k} populations need {k} tables, each with {k} axes of the same sizes"
        )
    return tables, False


def _float_table(t) -> np.ndarray:
    try:
        arr = np.asarray(t, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"payoffs: not a numeric table ({err})") from None
    if arr.size == 0:
        raise ValueError(f"payoffs: empty table of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("payoffs: non-finite payoffs (nan or inf)")
    return arr


def _describe(x) -> str:
    shape = getattr(x, "shape", None)
    return f"{type(x).__name__} of shape {shape}" if shape is not None else type(x).__name__


def _check_settings(alpha, m, eps, inf_alpha) -> None:
    if alpha is None:
        if not inf_alpha:
            raise ValueError("alpha: required unless inf_alpha=True")
    else:
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)):
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        if not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(
                f"alpha must be positive and finite, got {alpha!r} "
                "(for the limit use inf_alpha=True)"
            )
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m (population size) must be an integer >= 2, got {m!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.number)):
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}")
    if not (0 < eps < 1):
        raise ValueError(f"eps must lie in (0, 1), got {eps!r}")


def _profile_labels(labels, num_strategies: tuple[int, ...], single: bool) -> list[str] | None:
    """Profile names from per-population strategy names; None if no labels."""
    if labels is None:
        return None
    labels = list(labels)
    if single and labels and all(isinstance(x, str) for x in labels):
        labels = [labels]  # a single population's names may come without the outer list
    if len(labels) != len(num_strategies) or any(
        len(names) != s for names, s in zip(labels, num_strategies, strict=True)
    ):
        raise ValueError(
            f"labels: need one list of names per population with sizes {list(num_strategies)}, "
            f"got sizes {[len(x) for x in labels]}"
        )
    return [
        ",".join(str(labels[k][s]) for k, s in enumerate(p)) for p in np.ndindex(*num_strategies)
    ]


def _profile_name(p: Profile) -> str:
    return ",".join(str(s) for s in p)


# --------------------------------------------------------------------------- fixation


def _fixation_from_gaps(gaps: np.ndarray, alpha: float) -> np.ndarray:
    """Fixation probability of one mutant among m - 1 residents, Fermi selection.

    gaps[..., p - 1] = f_mutant(p) - f_resident(p) with p mutants, p = 1..m-1. The paper's
    finite-population formula
        rho = 1 / (1 + sum_{l=1}^{m-1} prod_{p=1}^{l} exp(-alpha * gaps_p))
    is evaluated in log space (logsumexp), so large alpha underflows to 0 or saturates at 1
    instead of overflowing, and equal fitness gives exactly 1/m.
    """
    exponents = -alpha * np.cumsum(gaps, axis=-1)
    zeros = np.zeros(exponents.shape[:-1] + (1,))
    return np.exp(-logsumexp(np.concatenate([zeros, exponents], axis=-1), axis=-1))


def _fixation_inf_alpha(gaps: np.ndarray, eps: float, scale: float) -> np.ndarray:
    """The alpha -> infinity limit of `_fixation_from_gaps`, perturbed by eps.

    With c_l = sum_{p<=l} gaps_p the limit is 0 if some c_l < 0, else 1 / (1 + #{l: c_l = 0}):
    with a constant gap (the multi-population and local-selection models) a fitter mutant
    fixes with 1, a less fit one with 0, and a neutral one with 1/m. So that the chain stays
    irreducible, limits of 1 become 1 - eps and limits of 0 become eps; intermediate values
    (ties; a tie all the way gives 1/m, as #{l: c_l = 0} = m - 1) are kept.
    |c_l| <= TIE_RTOL * scale counts as 0.
    """
    c = np.cumsum(gaps, axis=-1)
    tol = TIE_RTOL * max(1.0, scale)
    loses = np.any(c < -tol, axis=-1)
    ties = np.sum(np.abs(c) <= tol, axis=-1)
    rho = np.where(loses, 0.0, 1.0 / (1.0 + ties))
    rho = np.where(rho == 1.0, 1.0 - eps, rho)
    rho = np.where(rho == 0.0, eps, rho)
    return rho


def _singlepop_gaps(M: np.ndarray, m: int, local_selection: bool) -> np.ndarray:
    """gaps[resident, mutant, p - 1] for a single population, p = 1..m-1 mutants.

    Local selection: the mutant and the resident it is compared with play each other, so
    f_mutant = M[mutant, resident] and f_resident = M[resident, mutant] whatever p is.
    Population state: each plays the rest of the population (m - 1 others):
        f_mutant(p)   = ((p - 1) M[t, t] + (m - p) M[t, s]) / (m - 1)
        f_resident(p) = (p M[s, t] + (m - p - 1) M[s, s]) / (m - 1).
    """
    p = np.arange(1, m)
    resident_vs_mutant = M  # M[s, t]
    mutant_vs_resident = M.T  # M[t, s] indexed [s, t]
    if local_selection:
        gap = mutant_vs_resident - resident_vs_mutant
        return np.broadcast_to(gap[..., None], gap.shape + (m - 1,))
    diag = np.diag(M)
    mutant_vs_mutant = diag[None, :, None]  # M[t, t]
    resident_vs_resident = diag[:, None, None]  # M[s, s]
    f_mutant = ((p - 1) * mutant_vs_mutant + (m - p) * mutant_vs_resident[..., None]) / (m - 1)
    f_resident = (p * resident_vs_mutant[..., None] + (m - p - 1) * resident_vs_resident) / (m - 1)
    return f_mutant - f_resident


def _neighbour_gaps(tables: list[np.ndarray], shape: tuple[int, ...]):
    """(source, target, gap) for every ordered pair of neighbouring profiles.

    In the multi-population model a mutant of population k plays against the other
    populations' monomorphic strategies, so its fitness is table k at the profile it would
    create and the resident's is table k at the current profile.
    """
    index = np.arange(int(np.prod(shape))).reshape(shape)
    sources, targets, gaps = [], [], []
    for k, table in enumerate(tables):
        current = np.arange(shape[k]).reshape([-1 if a == k else 1 for a in range(len(shape))])
        for t in range(shape[k]):
            target = np.broadcast_to(np.take(index, [t], axis=k), shape)
            gap = np.broadcast_to(np.take(table, [t], axis=k), shape) - table
            moves = np.broadcast_to(current != t, shape)
            sources.append(index[moves])
            targets.append(target[moves])
            gaps.append(gap[moves])
    return np.concatenate(sources), np.concatenate(targets), np.concatenate(gaps)


# --------------------------------------------------------------------------- chain


def _stationary(C: np.ndarray) -> np.ndarray:
    """Stationary distribution of a row-stochastic matrix.

    Grassmann-Taksar-Heyman state reduction first: it never subtracts, so probabilities
    down to the float64 limit keep their relative accuracy (large alpha makes entries
    like 1e-200). When a pivot is 0 (the chain is reducible in float64) it falls back to a
    least-squares solve of pi (C - I) = 0, sum(pi) = 1. Tiny negatives are clipped and pi
    renormalised.
    """
    n = C.shape[0]
    if n == 1:
        return np.ones(1)
    pi = _gth(C)
    if pi is None:
        system = np.vstack([C.T - np.eye(n), np.ones((1, n))])
        rhs = np.zeros(n + 1)
        rhs[-1] = 1.0
        pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def _gth(C: np.ndarray) -> np.ndarray | None:
    A = np.array(C, dtype=float)
    n = A.shape[0]
    for k in range(n - 1, 0, -1):
        pivot = A[k, :k].sum()
        if not pivot > 0:
            return None
        A[:k, k] /= pivot
        A[:k, :k] += np.outer(A[:k, k], A[k, :k])
    pi = np.zeros(n)
    pi[0] = 1.0
    for k in range(1, n):
        pi[k] = pi[:k] @ A[:k, k]
    total = pi.sum()
    return pi / total if np.isfinite(total) and total > 0 else None


def _closed_classes(C: np.ndarray) -> int:
    """Closed communicating classes of the graph of C's positive off-diagonal entries."""
    n = C.shape[0]
    if n == 1:
        return 1
    positive = (C > 0) & ~np.eye(n, dtype=bool)
    count, label = connected_components(positive, directed=True, connection="strong")
    leaves = np.zeros(count, dtype=bool)
    src, dst = np.nonzero(positive)
    leaves[label[src][label[src] != label[dst]]] = True
    return int(np.sum(~leaves))


def _rank(pi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ranking, ranks): profiles by decreasing pi with ties in index order, and positions."""
    key = np.round(pi, RANK_DECIMALS)
    ranking = np.argsort(-key, kind="stable")
    ranks = 1 + np.sum(key[None, :] > key[:, None], axis=1)
    return ranking, ranks


# --------------------------------------------------------------------------- alpha-Rank


def alpharank(
    payoffs,
    alpha: float | None,
    m: int = 50,
    local_selection: bool = True,
    inf_alpha: bool = False,
    eps: float = 1e-2,
    labels: Sequence | None = None,
) -> AlphaRankResult:
    """alpha-Rank (Omidshafiei et al. 2019) of a single- or multi-population payoff table.

    The chain's states are the monomorphic profiles (a single population's S strategies,
    or all prod_k S_k profiles of K populations). From profile s, population k's mutant
    strategy t is proposed with probability eta = 1 / sum_k (S_k - 1) and fixes with the
    Fermi fixation probability rho; C[s, s] = 1 - sum of the rest.

    - Multi-population: rho = (1 - exp(-alpha d)) / (1 - exp(-m alpha d)) with
      d = M^k(t, s^-k) - M^k(s^k, s^-k) (1/m at d = 0).
    - Single population, `local_selection=True`: the same formula with
      d = M[t, s] - M[s, t] (mutant and resident play each other); `False`: the
      population-state model of `_singlepop_gaps` in the general formula of
      `_fixation_from_gaps`.
    - `inf_alpha=True`: the alpha -> infinity limit with the eps perturbation of
      `_fixation_inf_alpha` (fitter mutant 1 - eps, less fit eps, neutral 1/m); alpha is
      then ignored and may be None.

    Raises ValueError before any work for alpha <= 0 or nan, m < 2, eps outside (0, 1), a
    non-square single-population table, mismatched multi-population shapes or non-finite
    payoffs.
    """
    _check_settings(alpha, m, eps, inf_alpha)
    tables, single = _as_tables(payoffs)
    shape = (tables[0].shape[0],) if single else tables[0].shape
    names = _profile_labels(labels, shape, single)
    profiles = [tuple(int(i) for i in p) for p in np.ndindex(*shape)]
    n = len(profiles)
    scale = max(float(np.max(np.abs(t))) for t in tables)

    if single:
        S = shape[0]
        src, dst = np.nonzero(~np.eye(S, dtype=bool))
        gaps = _singlepop_gaps(tables[0], m, local_selection)[src, dst]
    else:
        src, dst, gap = _neighbour_gaps(tables, shape)
        gaps = np.broadcast_to(gap[:, None], gap.shape + (m - 1,))
    if inf_alpha:
        rho = _fixation_inf_alpha(gaps, eps, scale)
    else:
        rho = _fixation_from_gaps(gaps, float(alpha))

    fixation = np.zeros((n, n))
    fixation[src, dst] = rho
    neighbours = np.zeros((n, n), dtype=bool)
    neighbours[src, dst] = True
    eta = 1.0 / max(1, sum(s - 1 for s in shape))
    C = eta * fixation
    C[np.arange(n), np.arange(n)] = 1.0 - C.sum(axis=1)
    pi = _stationary(C)
    ranking, ranks = _rank(pi)
    return AlphaRankResult(
        pi=pi,
        ranking=ranking,
        ranks=ranks,
        transition=C,
        fixation=fixation,
        neighbours=neighbours,
        profiles=profiles,
        num_strategies=tuple(int(s) for s in shape),
        single_population=single,
        alpha=None if alpha is None else float(alpha),
        m=int(m),
        inf_alpha=inf_alpha,
        eps=float(eps),
        local_selection=local_selection,
        closed_classes=_closed_classes(C),
        labels=names,
    )


def sweep_alpha(
    payoffs,
    alphas: Sequence[float] | None = None,
    m: int = 50,
    local_selection: bool = True,
    rtol: float = 1e-3,
    labels: Sequence | None = None,
) -> AlphaSweep:
    """pi over a log-spaced alpha sweep (default 33 points, 1e-4 .. 1e4) and the large alpha.

    Omidshafiei et al. 2019 report alpha-Rank at a large alpha, chosen by sweeping alpha
    and taking the value past which the ranking no longer changes. Criterion here: among
    the numerically sound alphas (unique stationary distribution in float64), choose the
    smallest alpha_i such that every larger sound alpha_j has max_p |pi_j[p] - pi_i[p]| <=
    rtol (pi sums to 1, so this is a tolerance on mass) and the same ranking. The largest
    sound alpha always passes vacuously; if nothing smaller does, it is the choice and
    `converged` is False.
    """
    alphas = np.logspace(-4, 4, 33) if alphas is None else np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(f"alphas: need a non-empty 1-D sequence, got shape {alphas.shape}")
    if not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError("alphas must be positive and finite")
    if not (np.isfinite(rtol) and rtol > 0):
        raise ValueError(f"rtol must be positive, got {rtol!r}")
    alphas = np.sort(alphas)
    results = [alpharank(payoffs, float(a), m, local_selection, labels=labels) for a in alphas]
    pi = np.stack([r.pi for r in results])
    rankings = np.stack([r.ranking for r in results])
    sound = np.array([r.sound for r in results])
    chosen, converged = _choose_large_alpha(pi, rankings, sound, rtol)
    return AlphaSweep(
        alphas=alphas,
        pi=pi,
        rankings=rankings,
        sound=sound,
        chosen_index=chosen,
        converged=converged,
        rtol=float(rtol),
        profiles=results[0].profiles,
        labels=results[0].labels,
    )


def _choose_large_alpha(pi, rankings, sound, rtol) -> tuple[int, bool]:
    good = np.flatnonzero(sound)
    if good.size == 0:
        return 0, False
    for pos, i in enumerate(good):
        later = good[pos + 1 :]
        stable = all(
            np.max(np.abs(pi[j] - pi[i])) <= rtol and np.array_equal(rankings[j], rankings[i])
            for j in later
        )
        if stable:
            return int(i), later.size > 0
    return int(good[-1]), False  # unreachable: the last sound index passes vacuously


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
    """
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
        _resolve(directions, pair_index, lower, upper)
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


def _resolve(directions, pair_index, lower, upper) -> None:
    """Fixes the direction of each open edge whose two intervals no longer overlap."""
    a, b = pair_index[:, 0], pair_index[:, 1]
    open_ = directions == 0
    directions[open_ & (lower[b] > upper[a])] = 1
    directions[open_ & (upper[b] < lower[a])] = -1


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


# --------------------------------------------------------------------------- figures


def plot_alpha_sweep(sweep: AlphaSweep, path: str | Path) -> Path:
    """PNG of each profile's pi against alpha (log x-axis); the chosen alpha dashed."""
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    names = sweep.labels or [_profile_name(p) for p in sweep.profiles]
    for p, name in enumerate(names):
        ax.plot(sweep.alphas, sweep.pi[:, p], marker=".", label=name)
    unsound = ~sweep.sound
    if np.any(unsound):
        ax.plot(sweep.alphas[unsound], np.zeros(unsound.sum()), "x", color="red", label="unsound")
    ax.axvline(sweep.chosen_alpha, color="black", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("alpha (selection intensity)")
    ax.set_ylabel("stationary mass pi")
    ax.set_title(f"alpha sweep (chosen alpha = {sweep.chosen_alpha:.3g})")
    if len(names) <= 12:
        ax.legend(fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def plot_response_graph(
    result_or_payoffs,
    labels: Sequence[str] | None,
    path: str | Path,
    pi: np.ndarray | None = None,
) -> Path:
    """PNG of the response graph: profiles on a circle, sized and coloured by pi.

    From an AlphaRankResult: an arrow a -> b for each pair of neighbours where b's mutant
    fixes in a more readily than a's in b (for the multi-population and local-selection
    models exactly: b's mutant is fitter), width and opacity ~ fixation[a, b]. From a
    ResponseGraphResult: its resolved arrows, unresolved edges dashed grey. From payoffs:
    the infinite-alpha alpha-Rank of the table. `labels` are profile names (None: the
    result's labels or the profile tuples); `pi` overrides node sizes and colours.
    """
    if not isinstance(result_or_payoffs, (AlphaRankResult, ResponseGraphResult)):
        result_or_payoffs = alpharank(result_or_payoffs, None, inf_alpha=True)
    arrows, dashed, profiles, default_labels, default_pi = _graph_parts(result_or_payoffs)
    pi = np.asarray(default_pi if pi is None else pi, dtype=float)
    names = list(labels) if labels is not None else default_labels
    if len(names) != len(profiles) or pi.shape != (len(profiles),):
        raise ValueError(
            f"labels and pi need one value per profile ({len(profiles)}), got "
            f"{len(names)} labels and pi of shape {pi.shape}"
        )
    return _draw_graph(arrows, dashed, names, pi, Path(path))


def _graph_parts(result):
    """(arrows [(a, b, weight)], dashed [(a, b)], profiles, labels, pi) of a result."""
    if isinstance(result, ResponseGraphResult):
        arrows = [(a, b, 1.0) for a, b in result.arrows()]
        dashed = [(a, b) for a, b, _ in result.unresolved]
        names = result.labels or [_profile_name(p) for p in result.profiles]
        return arrows, dashed, result.profiles, names, result.pi
    fix = result.fixation
    src, dst = np.nonzero(result.neighbours & (fix > fix.T))
    top = float(fix[src, dst].max()) if src.size else 1.0
    arrows = [(int(a), int(b), float(fix[a, b]) / top) for a, b in zip(src, dst, strict=True)]
    return arrows, [], result.profiles, result.names(), result.pi


def _draw_graph(arrows, dashed, names, pi, path: Path) -> Path:
    from matplotlib.figure import Figure

    n = len(names)
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    weight = pi / pi.max() if pi.max() > 0 else np.zeros_like(pi)
    sizes = 300 + 1700 * weight  # marker area in points^2
    radius = np.sqrt(sizes) / 2  # in points, so arrows stop at the node's edge

    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    for a, b in dashed:
        ax.plot(*xy[[a, b]].T, linestyle="--", color="grey", linewidth=1, zorder=1)
    for a, b, w in arrows:
        ax.annotate(
            "",
            xy=xy[b],
            xytext=xy[a],
            zorder=2,
            arrowprops=dict(
                arrowstyle="-|>",
                color="black",
                linewidth=0.5 + 2.5 * w,
                alpha=0.25 + 0.75 * w,
                shrinkA=radius[a],
                shrinkB=radius[b],
                mutation_scale=12,
            ),
        )
    nodes = ax.scatter(*xy.T, s=sizes, c=pi, cmap="viridis", edgecolors="black", zorder=3)
    for (x, y), name, p, w in zip(xy, names, pi, weight, strict=True):
        out = 1.25 + 0.12 * w  # clear of the node, which grows with pi
        ax.annotate(
            f"{name}\n{p:.3f}",
            (x * out, y * out),
            ha="center",
            va="center",
            fontsize="small",
        )
    fig.colorbar(nodes, ax=ax, shrink=0.7, label="pi")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("response graph")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path

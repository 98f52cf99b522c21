"""alpha-Rank under complete information: ranking strategies by the stationary distribution of
an evolutionary chain.

Omidshafiei et al. 2019, "alpha-Rank: Multi-Agent Evaluation by Evolution" (Sci. Rep.): a
Markov chain over monomorphic populations, whose transitions are the fixation probabilities
of single mutants under Fermi (logit) selection of strength `alpha` in populations of `m`
individuals. Its stationary distribution `pi` is the ranking. Here: the payoff formats and
input checks, the fixation probabilities, the chain and its stationary distribution,
`alpharank` and the alpha sweep `sweep_alpha`. Payoffs estimated from noisy episodes
(Rowland et al. 2019) are in marl/evaluation/incomplete.py, the figures in
marl/evaluation/response_graph.py.

Payoff formats. Single population (a symmetric 2-player game): a square array `M[S, S]`,
`M[i, j]` the payoff to strategy i against j. Multi-population (K players, each its own
population): a list of K arrays of shape `[S_1, ..., S_K]`, table k the payoff to player k
at each profile (a stacked array `[K, S_1, ..., S_K]` is accepted too). Profiles are
numbered in C order of `np.ndindex(S_1, ..., S_K)`; a single population's profiles are
`(i,)`.

Only numpy and scipy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.special import logsumexp

Profile = tuple[int, ...]

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

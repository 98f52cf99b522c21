"""alpha-Rank (marl/evaluation/alpharank.py): known answers, OpenSpiel agreement, the
incomplete-information tools (bootstrap, ResponseGraphUCB; marl/evaluation/incomplete.py)
and the figures (marl/evaluation/response_graph.py). numpy only; no JAX."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from marl.evaluation.alpharank import AlphaRankResult, alpharank, sweep_alpha
from marl.evaluation.incomplete import bootstrap, response_graph_ucb
from marl.evaluation.response_graph import plot_alpha_sweep, plot_response_graph

RPS = np.array([[0.0, -1.0, 1.0], [1.0, 0.0, -1.0], [-1.0, 1.0, 0.0]])
# Prisoner's Dilemma, row player's payoffs, strategies (C, D): CC 3, CD 0, DC 4, DD 1.
PD = np.array([[3.0, 0.0], [4.0, 1.0]])
# A biased RPS: the matrix as we recall it from the alpha-Rank paper, not verified against
# the paper here; the test relies only on what it checks itself: the Nash equilibrium is
# unequal, (1/16, 5/8, 5/16), while the 3-cycle of the response graph is symmetric.
BIASED_RPS = np.array([[0.0, -0.5, 1.0], [0.5, 0.0, -0.1], [-1.0, 0.1, 0.0]])

BOTH_MODELS = pytest.mark.parametrize("local", [True, False], ids=["local", "population"])


def _dominant_game(seed=0, size=4):
    """Strategy 0 beats every strategy against every opponent by at least 1."""
    M = np.random.default_rng(seed).uniform(-1, 1, size=(size, size))
    M[0] = M.max(axis=0) + 1.0
    return M


def _sink_game(seed=0):
    """2-player 3x3 game whose unique sink, and strict pure Nash equilibrium, is (0, 0):
    row 0 is strictly dominant for player 0, column 0 player 1's strict best reply to it."""
    rng = np.random.default_rng(seed)
    A, B = rng.uniform(-1, 1, size=(2, 3, 3))
    A[0] += 5.0
    B[0, 0] += 5.0
    return [A, B]


# --------------------------------------------------------------------------- known answers


@BOTH_MODELS
@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0, 10.0, 1e3])
def test_rock_paper_scissors_is_uniform_at_any_alpha(local, alpha):
    result = alpharank(RPS, alpha, local_selection=local)
    np.testing.assert_allclose(result.pi, np.full(3, 1 / 3), atol=1e-12)
    np.testing.assert_array_equal(result.ranks, [1, 1, 1])
    np.testing.assert_array_equal(result.ranking, [0, 1, 2])  # ties keep index order


@BOTH_MODELS
def test_dominant_strategy_takes_the_mass_at_large_alpha(local):
    result = alpharank(_dominant_game(), 100.0, local_selection=local)
    assert result.pi[0] > 1 - 1e-9
    assert result.ranking[0] == 0
    assert alpharank(_dominant_game(), None, inf_alpha=True).pi[0] > 0.95


@BOTH_MODELS
@pytest.mark.parametrize("alpha", [0.1, 1.0, 10.0])
def test_prisoners_dilemma_ranks_defect_first(local, alpha):
    result = alpharank(PD, alpha, local_selection=local, labels=["C", "D"])
    assert result.ranking[0] == 1 and result.labels[result.ranking[0]] == "D"
    assert result.pi[1] > 0.5


def test_biased_rps_inf_alpha_is_uniform_over_the_cycle_while_nash_is_not():
    nash = np.linalg.solve(np.vstack([BIASED_RPS[:2], np.ones(3)]), [0.0, 0.0, 1.0])
    np.testing.assert_allclose(BIASED_RPS @ nash, 0.0, atol=1e-12)  # interior equilibrium
    np.testing.assert_allclose(nash, [1 / 16, 5 / 8, 5 / 16])
    for local in (True, False):
        result = alpharank(BIASED_RPS, None, inf_alpha=True, local_selection=local)
        np.testing.assert_allclose(result.pi, np.full(3, 1 / 3), atol=1e-12)
    # At finite alpha the unequal gaps do matter: the ranking is not uniform.
    assert np.ptp(alpharank(BIASED_RPS, 1.0).pi) > 0.01


@pytest.mark.parametrize("alpha", [10.0, 100.0, None])
def test_multipop_strict_nash_sink_takes_the_mass(alpha):
    result = alpharank(_sink_game(), alpha, inf_alpha=alpha is None)
    assert result.profiles[result.ranking[0]] == (0, 0)
    assert result.pi[0] > (0.95 if alpha is None else 0.99)


def test_multipop_profiles_labels_and_chain_shape():
    result = alpharank(_sink_game(), 1.0, labels=[["a", "b", "c"], ["x", "y", "z"]])
    assert result.profiles[:4] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert result.labels[:2] == ["a,x", "a,y"]
    np.testing.assert_allclose(result.transition.sum(axis=1), 1.0)
    # eta = 1 / sum_k (S_k - 1) = 1/4 and each profile has 4 neighbours.
    assert result.neighbours.sum(axis=1).tolist() == [4] * 9
    np.testing.assert_allclose(result.transition[0, 1], result.fixation[0, 1] / 4)
    np.testing.assert_allclose(result.pi @ result.transition, result.pi, atol=1e-12)


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    table=hnp.arrays(
        float, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=st.floats(-10, 10)
    ),
    log_alpha=st.floats(-3, 3),
    local=st.booleans(),
    multipop=st.booleans(),
)
def test_pi_is_a_distribution(table, log_alpha, local, multipop):
    if multipop:
        payoffs = [table, -table[::-1]]
    else:
        payoffs = table[: min(table.shape), : min(table.shape)]
    result = alpharank(payoffs, 10.0**log_alpha, local_selection=local)
    assert np.all(result.pi >= 0)
    assert np.isclose(result.pi.sum(), 1.0)
    assert sorted(result.ranking.tolist()) == list(range(len(result.pi)))


# --------------------------------------------------------------------------- OpenSpiel


def _random_games(seed, count=4):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(4, 4)) for _ in range(count)]


@BOTH_MODELS
@pytest.mark.parametrize("alpha", [0.1, 1.0, 5.0])  # OpenSpiel's formula overflows beyond ~10
def test_single_population_matches_openspiel(local, alpha):
    reference = pytest.importorskip("open_spiel.python.egt.alpharank")
    for M in _random_games(1):
        with np.errstate(over="ignore"):  # OpenSpiel's exp(-m u) overflows harmlessly
            ref_pi = reference.compute([M], m=50, alpha=alpha, use_local_selection_model=local)[2]
        np.testing.assert_allclose(alpharank(M, alpha, local_selection=local).pi, ref_pi, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.1, 1.0, 5.0])
def test_two_populations_match_openspiel(alpha):
    reference = pytest.importorskip("open_spiel.python.egt.alpharank")
    rng = np.random.default_rng(2)
    for _ in range(4):
        tables = [rng.normal(size=(3, 4)) for _ in range(2)]
        with np.errstate(over="ignore"):
            ref_pi = reference.compute(tables, m=50, alpha=alpha)[2]
        # 1e-8: at alpha 5 OpenSpiel's eigenvector solve is off by ~1e-9 on a mass of
        # ~1e-10 (60-digit arithmetic agrees with ours to 1e-23 there).
        np.testing.assert_allclose(alpharank(tables, alpha).pi, ref_pi, atol=1e-8)


def test_inf_alpha_matches_openspiel_without_ties():
    # OpenSpiel gives ties 1/2 where we give the limit 1/m; random tables have no ties.
    reference = pytest.importorskip("open_spiel.python.egt.alpharank")
    rng = np.random.default_rng(3)
    for M in _random_games(4):
        ref_pi = reference.compute([M], use_inf_alpha=True, inf_alpha_eps=0.01)[2]
        np.testing.assert_allclose(alpharank(M, None, inf_alpha=True).pi, ref_pi, atol=1e-9)
    tables = [rng.normal(size=(3, 4)) for _ in range(2)]
    ref_pi = reference.compute(tables, use_inf_alpha=True, inf_alpha_eps=0.01)[2]
    np.testing.assert_allclose(alpharank(tables, None, inf_alpha=True).pi, ref_pi, atol=1e-9)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("payoffs", "kwargs", "message"),
    [
        (RPS, {"alpha": 0.0}, "alpha"),
        (RPS, {"alpha": -1.0}, "alpha"),
        (RPS, {"alpha": float("nan")}, "alpha"),
        (RPS, {"alpha": None}, "alpha"),
        (RPS, {"alpha": 1.0, "m": 1}, "m"),
        (RPS, {"alpha": 1.0, "eps": 0.0}, "eps"),
        (RPS, {"alpha": 1.0, "eps": 1.0}, "eps"),
        (np.ones((2, 3)), {"alpha": 1.0}, "square"),
        ([np.ones((2, 3)), np.ones((3, 2))], {"alpha": 1.0}, "mismatched"),
        ([np.ones((2, 3)), np.ones((2, 3, 1))], {"alpha": 1.0}, "mismatched"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), {"alpha": 1.0}, "non-finite"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), {"alpha": 1.0}, "non-finite"),
        (RPS, {"alpha": 1.0, "labels": ["R", "P"]}, "labels"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(payoffs, kwargs, message):
    with pytest.raises(ValueError, match=message):
        alpharank(payoffs, **kwargs)


def test_bad_sweep_and_sampler_settings_raise():
    with pytest.raises(ValueError, match="alphas"):
        sweep_alpha(RPS, alphas=[1.0, -1.0])
    with pytest.raises(ValueError, match="delta"):
        response_graph_ucb(lambda e: [], (3,), delta=1.5)
    with pytest.raises(ValueError, match="payoff_range"):
        response_graph_ucb(lambda entries: [np.array([2.0]) for _ in entries], (2,), batch=1)


# --------------------------------------------------------------------------- alpha sweep


def test_sweep_picks_the_alpha_beyond_which_pi_stops_changing():
    sweep = sweep_alpha(PD, rtol=1e-3)
    assert sweep.converged and sweep.sound.all()
    later = sweep.pi[sweep.chosen_index :]
    assert np.max(np.abs(later - sweep.chosen_pi)) <= 1e-3
    if sweep.chosen_index > 0:  # the alpha just before it still moved pi by more than rtol
        assert np.max(np.abs(sweep.pi[sweep.chosen_index - 1] - sweep.pi[-1])) > 1e-3
    assert sweep.rankings[sweep.chosen_index][0] == 1  # Defect


def test_sweep_of_rock_paper_scissors_is_flat():
    sweep = sweep_alpha(RPS)
    assert sweep.chosen_index == 0
    np.testing.assert_allclose(sweep.pi, 1 / 3, atol=1e-12)


# --------------------------------------------------------------------------- bootstrap


TRANSITIVE_VALUES = np.array([0.0, 1.0, 2.0, 3.0])


def _transitive(values):
    return values[:, None] - values[None, :]


def test_bootstrap_of_a_well_separated_game_gives_point_rank_intervals():
    rng = np.random.default_rng(0)
    M = _transitive(TRANSITIVE_VALUES)
    samples = M[..., None] + 0.1 * rng.standard_normal(M.shape + (500,))
    ranks = bootstrap(samples, 200, alpha=0.05, rng=1)
    np.testing.assert_array_equal(ranks.rank_low, [4, 3, 2, 1])
    np.testing.assert_array_equal(ranks.rank_high, [4, 3, 2, 1])
    np.testing.assert_array_equal(ranks.p_first, [0, 0, 0, 1])
    assert np.all(ranks.pi_low <= ranks.point.pi) and np.all(ranks.point.pi <= ranks.pi_high)


def test_bootstrap_of_noisy_close_payoffs_widens_the_rank_intervals():
    rng = np.random.default_rng(0)
    M = _transitive(0.05 * TRANSITIVE_VALUES)
    samples = M[..., None] + rng.standard_normal(M.shape + (20,))
    ranks = bootstrap(samples, 200, alpha=0.05, rng=1)
    assert np.mean(ranks.rank_high - ranks.rank_low) >= 1.0
    assert ranks.p_first.max() < 0.95
    np.testing.assert_allclose(ranks.p_first.sum(), 1.0, atol=0.2)  # ties may share first


def test_bootstrap_accepts_object_arrays_with_unequal_counts():
    rng = np.random.default_rng(0)
    tables = _sink_game()
    samples = []
    for table in tables:
        cells = np.empty(table.shape, dtype=object)
        for idx in np.ndindex(table.shape):
            cells[idx] = table[idx] + 0.1 * rng.standard_normal(rng.integers(5, 30))
        samples.append(cells)
    ranks = bootstrap(samples, 50, alpha=10.0, rng=0)
    assert ranks.profiles[int(np.argmax(ranks.pi_mean))] == (0, 0)
    assert ranks.pis.shape == (50, 9)
    # The same per-entry data as a float array with a trailing axis gives the same answer.
    equal = np.stack([t[..., None] + np.zeros(8) for t in tables])
    as_objects = [np.empty((3, 3), dtype=object) for _ in tables]
    for k in range(2):
        for idx in np.ndindex(3, 3):
            as_objects[k][idx] = equal[k][idx]
    a = bootstrap(list(equal), 20, alpha=1.0, rng=5)
    b = bootstrap(as_objects, 20, alpha=1.0, rng=5)
    np.testing.assert_array_equal(a.pis, b.pis)


# --------------------------------------------------------------------------- ResponseGraphUCB


# Bernoulli win probabilities of a 2-player 3x3 game: every edge's gap is >= 0.4 except
# one (player 0, column 0, rows 1 and 2: 0.5 vs 0.6), so adaptivity has work to skip.
BERNOULLI = [
    np.array([[0.1, 0.9, 0.5], [0.5, 0.1, 0.9], [0.6, 0.5, 0.1]]),
    np.array([[0.1, 0.5, 0.9], [0.9, 0.1, 0.5], [0.5, 0.9, 0.1]]),
]


def _bernoulli_sampler(tables, seed):
    rng = np.random.default_rng(seed)

    def sample(entries):
        return [(rng.random(20) < tables[k][p]).astype(float) for k, p in entries]

    return sample


def _true_directions(result, tables):
    return np.array(
        [np.sign(tables[b[0]][b[1]] - tables[a[0]][a[1]]) for a, b in result.edge_entries]
    )


@pytest.mark.parametrize("bound", ["hoeffding", "clopper-pearson"])
def test_response_graph_ucb_recovers_edges_with_fewer_samples_than_uniform(bound):
    kwargs = dict(shape=(3, 3), batch=20, max_samples=10**6, bound=bound)
    adaptive = response_graph_ucb(_bernoulli_sampler(BERNOULLI, 0), **kwargs)
    uniform = response_graph_ucb(_bernoulli_sampler(BERNOULLI, 0), rule="uniform", **kwargs)
    assert adaptive.resolved and uniform.resolved
    np.testing.assert_array_equal(adaptive.directions, _true_directions(adaptive, BERNOULLI))
    assert adaptive.total_samples < uniform.total_samples / 3
    # Infinite-alpha alpha-Rank depends on edge directions only, so it is exact here.
    np.testing.assert_allclose(adaptive.pi, alpharank(BERNOULLI, None, inf_alpha=True).pi)


def test_response_graph_ucb_single_population_and_budget():
    wins = np.array([[0.5, 0.2, 0.9], [0.8, 0.5, 0.3], [0.1, 0.7, 0.5]])  # a biased cycle
    result = response_graph_ucb(_bernoulli_sampler([wins], 0), (3,), batch=20)
    assert result.resolved
    assert sorted(result.arrows()) == [(0, 1), (1, 2), (2, 0)]
    assert (0, (0, 0)) not in result.entries  # the diagonal decides no edge
    tiny = response_graph_ucb(_bernoulli_sampler([wins], 0), (3,), batch=20, max_samples=100)
    assert not tiny.resolved and tiny.unresolved
    assert tiny.total_samples < 100 + 6 * 20  # stops at the first round past the budget


def test_response_graph_ucb_declares_exact_ties_within_the_margin():
    tied = np.array([[0.5, 0.5, 0.9], [0.5, 0.5, 0.9], [0.1, 0.1, 0.5]])  # 0 and 1 play alike
    sampler = lambda: _bernoulli_sampler([tied], 0)
    paper = response_graph_ucb(sampler(), (3,), batch=20, max_samples=4000)
    assert paper.unresolved == [(0, 1, 0)]  # the paper's rule samples a tie until broke
    with_margin = response_graph_ucb(sampler(), (3,), batch=20, tie_margin=0.3)
    assert with_margin.resolved and with_margin.ties == [(0, 1, 0)]
    assert sorted(with_margin.arrows()) == [(2, 0), (2, 1)]  # ties draw no arrow
    with pytest.raises(ValueError, match="tie_margin must be >= 0"):
        response_graph_ucb(sampler(), (3,), tie_margin=-1.0)


# --------------------------------------------------------------------------- figures


def test_figures_are_written(tmp_path):
    sweep = sweep_alpha(RPS, alphas=np.logspace(-2, 2, 9), labels=["R", "P", "S"])
    paths = [plot_alpha_sweep(sweep, tmp_path / "sweep.png")]
    ranked = alpharank(BIASED_RPS, 1.0, labels=["R", "P", "S"])
    assert isinstance(ranked, AlphaRankResult)
    paths.append(plot_response_graph(ranked, None, tmp_path / "graph.png"))
    paths.append(plot_response_graph(_sink_game(), None, tmp_path / "from_payoffs.png"))
    sampled = response_graph_ucb(_bernoulli_sampler(BERNOULLI, 0), (3, 3), max_samples=500)
    paths.append(
        plot_response_graph(sampled, [str(p) for p in sampled.profiles], tmp_path / "ucb.png")
    )
    for path in paths:
        assert path.exists() and path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

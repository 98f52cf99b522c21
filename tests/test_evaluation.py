"""The evaluation suite: episodes by assignment, leagues, scenarios, Shapley values and
Schelling diagrams (known answers from the matrix games and the public goods game)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training import run

import marl
from marl.config import ConfigError
from marl.evaluation import ranking, scenarios, schelling, shapley
from marl.evaluation.cli import main
from marl.evaluation.episodes import EpisodePlayer, episode_steps
from marl.evaluation.league import League, LeagueTable, play_league
from marl.evaluation.populations import fixed, scripted
from marl.policy import stateless

KEYS = jax.random.split(jax.random.PRNGKey(0), 4)
AD, AC, TFT = "always_defect", "always_cooperate", "tit_for_tat"


@pytest.fixture(scope="module")
def lola_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lola")
    return run(out, "+experiment=lola_ipd", "num_seeds=2", "num_chunks=2", "algo.num_runs=4")


@pytest.fixture(scope="module")
def ipd():
    return marl.make("ipd")


# ---- episodes ----------------------------------------------------------------------------
def test_each_slot_is_played_by_its_owner(ipd):
    env, params = ipd
    player = EpisodePlayer(env, params, [scripted(AD, env), scripted(TFT, env)])
    owner = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    played = player.play(KEYS, owner, np.zeros_like(owner))
    # 100 rounds: tit-for-tat is exploited once (-3), then both defect (-2 each round).
    np.testing.assert_allclose(
        played.returns, [[-198, -201], [-201, -198], [-100, -100], [-200, -200]]
    )
    np.testing.assert_allclose(played.length, 100)
    np.testing.assert_allclose(played.outcomes["cooperation_rate"], [0.005, 0.005, 1, 0])


def test_same_keys_same_episodes_and_bad_assignments_are_refused(ipd):
    env, params = ipd
    player = EpisodePlayer(env, params, [scripted("random", env), scripted(AD, env)])
    owner = np.array([[0, 0], [0, 1], [0, 0], [1, 0]])
    first = player.play(KEYS, owner, np.zeros_like(owner)).returns
    np.testing.assert_array_equal(first, player.play(KEYS, owner, np.zeros_like(owner)).returns)
    assert not np.array_equal(first[0], first[2])  # different keys, different random play
    with pytest.raises(ConfigError, match="owner must be in 0..1"):
        player.play(KEYS, owner + 1, np.zeros_like(owner))
    with pytest.raises(ConfigError, match="does not have"):
        player.play(KEYS, owner, np.ones_like(owner))
    spd, spd_params = marl.make("spatial_pd", size=5)
    with pytest.raises(ConfigError, match="continuing game"):
        episode_steps(spd, spd_params)


def test_trained_seeds_play_their_own_slots(lola_run, ipd):
    env, params = ipd
    from marl.evaluation.populations import parse_member

    pop = parse_member(str(lola_run), env, ("ipd", None, {}), "test", ("horizon",))
    player = EpisodePlayer(env, params, [pop, scripted(AD, env)], steps=20)
    owner = np.array([[0, 1], [0, 1], [0, 0], [0, 0]])
    member = np.array([[0, 0], [1, 0], [0, 1], [1, 0]])
    played = player.play(KEYS, owner, member)
    # LOLA retaliates: against always-defect it earns close to the mutual-defection -2.
    assert (played.per_step[:2, 0] < -1.7).all()
    assert (played.per_step[2:] > -1.5).all()  # cross-play between its seeds cooperates


def test_an_older_checkpoint_is_a_member_of_its_own(lola_run, ipd):
    from marl.evaluation.populations import parse_member, split_chunk

    assert split_chunk("runs/x:3") == ("runs/x", 3) and split_chunk("runs/x") == ("runs/x", None)
    env, _ = ipd
    old = parse_member(f"{lola_run}:0", env, ("ipd", None, {}), "test", ("horizon",))
    assert old.names == ["run@0:seed0", "run@0:seed1"]


# ---- leagues -----------------------------------------------------------------------------
def test_league_of_bots_is_the_ipd_payoff_table(ipd, tmp_path):
    env, params = ipd
    pops = [scripted(n, env) for n in (AD, AC, TFT)]
    table = play_league(League(env, params, pops, steps=10), {"name": "ipd"}, episodes=4)
    expected = [[-2, 0, -1.8], [-3, -1, -1], [-2.1, -1, -1]]  # per step over 10 rounds
    np.testing.assert_allclose(table.mean, expected, atol=1e-6)
    np.testing.assert_allclose(table.se, 0, atol=1e-6)  # deterministic bots
    table.save(tmp_path)
    stored = json.loads((tmp_path / "league.json").read_text())
    assert stored["members"] == [AD, AC, TFT] and stored["episodes"][0][0] == 4
    assert (tmp_path / "league.png").stat().st_size > 0
    np.testing.assert_array_equal(LeagueTable.load(tmp_path).focal, table.focal)


def test_league_episodes_go_through_every_slot_assignment(ipd):
    env, params = ipd
    league = League(env, params, [scripted(AD, env), scripted(AC, env)])
    _, _, focal = league._assign([(0, 1)], 4)
    np.testing.assert_array_equal(focal[:, 0], [True, False, True, False])
    spgg, spgg_params = marl.make("spgg")
    league = League(spgg, spgg_params, [scripted(AD, spgg)], focal_copies=2)
    _, _, focal = league._assign([(0, 0)], 3)
    assert sorted(map(tuple, focal)) == [
        (False, True, True),
        (True, False, True),
        (True, True, False),
    ]


def test_league_refuses_bad_shapes(ipd):
    env, params = ipd
    with pytest.raises(ConfigError, match="focal_copies must be in 1..1"):
        League(env, params, [scripted(AD, env)], focal_copies=2)
    with pytest.raises(ConfigError, match="distinct names"):
        League(env, params, [scripted(AD, env), scripted(AD, env)])


def test_n_player_league_puts_k_focal_copies_against_the_background():
    env, params = marl.make("spgg", reward_mode="classic")  # 3 agents, c in {0, 1}, r = 1.8
    pops = [scripted(AC, env), scripted(AD, env)]
    table = play_league(League(env, params, pops, focal_copies=2), {"name": "spgg"}, 2)
    steps = table.steps
    # Two contributors with one free-rider: each contributor earns 0.6 * 2 = 1.2 per game.
    np.testing.assert_allclose(table.mean[0, 1], 1.2 / steps, atol=1e-6)
    np.testing.assert_allclose(table.background[0, 1].mean(), (1 + 1.2) / steps, atol=1e-6)


def test_alpharank_of_a_league_and_the_adaptive_sampler(ipd, tmp_path):
    env, params = ipd
    pops = [scripted(n, env) for n in (AD, AC, "random")]
    league = League(env, params, pops, steps=10)
    table = play_league(league, {"name": "ipd"}, episodes=4)
    report = ranking.league_report(table, tmp_path, n_boot=20)
    assert [r["member"] for r in report["ranking"]][0] == AD
    found = ranking.adaptive(league, table, tmp_path, delta=0.1, max_episodes=6000)
    # No two members tie, so every edge resolves; defection beats both, and random play
    # exploits a cooperator (the arrows point to the fitter mutant).
    assert found["resolved"], found["unresolved_edges"]
    assert {(AC, AD), ("random", AD), (AC, "random")} == {tuple(a) for a in found["arrows"]}
    # Adaptive: the easy edge (a gap of 3 per step) needs fewer episodes than the hard one.
    counts = found["episodes_per_entry"]
    assert counts[f"{AD} vs {AC}"] < counts[f"{AC} vs random"]
    assert (tmp_path / "adaptive.json").exists()
    with pytest.raises(ConfigError, match="alpha must be > 0"):
        ranking.league_report(table, tmp_path, alpha=-1.0)


# ---- Shapley values ----------------------------------------------------------------------
def _contributions(levels):
    """A policy whose slot i always contributes level `levels[i]`."""
    return stateless(lambda key, obs: jnp.asarray(levels, jnp.int32))


def test_shapley_of_an_additive_game_is_each_agents_own_contribution():
    env, params = marl.make("spgg", reward_mode="classic", levels=2, num_agents=3)
    players = fixed("mixed", _contributions([2, 1, 0]), 3)  # contributions 1, 0.5, 0
    game = shapley.CoalitionGame(env, params, players, scripted(AD, env), episodes=2)
    result = shapley.shapley(game)
    # Collective return n + (r - 1) S: slot i adds (r - 1) c_i whoever else contributes.
    np.testing.assert_allclose(result.values, [0.8, 0.4, 0.0], atol=1e-5)
    np.testing.assert_allclose(result.values.sum(), result.grand - result.empty, atol=1e-5)
    symmetric = shapley.CoalitionGame(env, params, scripted(AC, env), scripted(AD, env), episodes=2)
    values = shapley.shapley(symmetric).values
    np.testing.assert_allclose(values, values[0], atol=1e-6)


def test_monte_carlo_shapley_agrees_with_the_exact_values():
    # MAC-SPGG (threshold penalty, reciprocity bonus): not additive, so orders matter.
    env, params = marl.make("spgg", num_agents=4)
    game = shapley.CoalitionGame(
        env, params, scripted(AC, env), scripted("random", env), episodes=8
    )
    exact = shapley.exact(game)
    estimate = shapley.monte_carlo(game, orders=48)
    assert estimate.method == "monte_carlo" and exact.coalitions_played == 16
    assert np.all(np.abs(estimate.values - exact.values) <= 4 * estimate.se + 0.05)
    np.testing.assert_allclose(estimate.values.sum(), estimate.grand - estimate.empty, atol=1e-5)
    with pytest.raises(ConfigError, match="orders must be >= 2"):
        shapley.monte_carlo(game, orders=1)


# ---- Schelling diagrams ------------------------------------------------------------------
def test_schelling_diagram_of_the_public_goods_game():
    env, params = marl.make("spgg", reward_mode="classic")  # n = 3, r = 1.8
    diagram = schelling.schelling(env, params, scripted(AC, env), scripted(AD, env), episodes=2)
    k = np.arange(3)
    np.testing.assert_allclose(diagram.cooperator.mean(1), 0.6 * (k + 1), atol=1e-5)
    np.testing.assert_allclose(diagram.defector.mean(1), 1 + 0.6 * k, atol=1e-5)
    shape = diagram.shape()
    assert shape["social_dilemma"] and shape["fear"]["holds"] and shape["greed"]["holds"]


def test_swapped_labels_are_not_a_dilemma(ipd, tmp_path):
    env, params = ipd
    diagram = schelling.schelling(env, params, scripted(AD, env), scripted(AC, env), episodes=2)
    assert not diagram.shape()["social_dilemma"]
    result = schelling.save(diagram, tmp_path)
    assert result["cooperator_return"]["mean"] == [0.0, -200.0]  # AD vs AC, AD vs AD
    assert (tmp_path / "schelling.png").stat().st_size > 0


# ---- scenarios ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", scenarios.names())
def test_shipped_scenarios_are_valid(name):
    scenario = scenarios.load(name)
    env, _ = marl.make(
        scenario.env["name"], **{"preset": scenario.env["preset"], **scenario.env["args"]}
    )
    assert 1 <= scenario.focal_slots < env.num_agents
    from marl.scripted import names_for

    for entry in scenario.background:
        assert "run" in entry or entry["policy"] in names_for(env)


def test_scenario_reports_the_focal_and_background_returns():
    result = scenarios.run(scenarios.load("ipd_among_defectors"), f"scripted:{TFT}", episodes=3)
    assert result["focal_per_capita_return"]["mean"] == pytest.approx(-201)
    assert result["background_per_capita_return"]["mean"] == pytest.approx(-198)
    assert result["social_outcomes"]["efficiency"]["mean"] == pytest.approx(-3.99)


def test_scenario_with_a_trained_focal_population(lola_run):
    result = scenarios.run(scenarios.load("ipd_among_reciprocators"), str(lola_run), episodes=4)
    assert set(result["focal_return_by_member"]) <= {"run:seed0", "run:seed1"}
    assert result["focal_per_capita_return"]["mean"] > -150  # cooperates with tit-for-tat


def test_bad_scenarios_fail_before_compiling(tmp_path, lola_run):
    path = tmp_path / "bad.yaml"
    path.write_text("env: harvest\nfocal_slots: 9\nbackground: [{policy: greedy_eater}]\n")
    with pytest.raises(ConfigError, match="harvest has 7 agents"):
        scenarios.run(scenarios.load(str(path)), "scripted:greedy_eater")
    path.write_text("env: harvest\nfocal_slots: 1\nbackground: [{policy: x}]\nfoo: 1\n")
    with pytest.raises(ConfigError, match="unknown keys \\['foo'\\]"):
        scenarios.load(str(path))
    with pytest.raises(ConfigError, match="unknown scenario 'nope'"):
        scenarios.load("nope")
    with pytest.raises(ConfigError, match="focal: .* was trained on ipd"):
        scenarios.run(scenarios.load("coin_game_vs_defector"), str(lola_run))


# ---- the command line --------------------------------------------------------------------
def test_command_line_league_and_its_errors(tmp_path, capsys):
    out = tmp_path / "lg"
    assert (
        main(
            [
                "league",
                "--env",
                "ipd",
                "--scripted",
                f"{AD},{AC}",
                "--episodes",
                "2",
                "--steps",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads((out / "league.json").read_text())["members"] == [AD, AC]
    assert (
        main(["scenario=ipd_among_defectors", f"focal=scripted:{AC}", f"out={tmp_path / 'sc'}"])
        == 0
    )
    assert (tmp_path / "sc" / "scenario.json").exists() and (
        tmp_path / "sc" / "scenario.png"
    ).exists()
    assert main(["alpharank", str(out), "--bootstrap", "20"]) == 0
    report = json.loads((out / "alpharank.json").read_text())
    assert report["ranking"][0]["member"] == AD  # defection invades cooperation
    assert (out / "response_graph.png").exists() and (out / "alpha_sweep.png").exists()
    capsys.readouterr()
    assert main(["alpharank", str(out), "--alpha", "0"]) == 2
    assert "--alpha must be > 0" in capsys.readouterr().err
    assert main(["alpharank", str(tmp_path)]) == 2
    assert "holds no league" in capsys.readouterr().err
    assert main(["league", f"scripted:{AD}", f"scripted:{AC}", "--out", str(tmp_path)]) == 2
    assert "give the game with --env" in capsys.readouterr().err
    assert (
        main(
            [
                "shapley",
                f"scripted:{AC}",
                "--env",
                "ipd",
                "--baseline",
                "scripted:nope",
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 2
    )
    assert "'nope' is not a scripted policy for ipd" in capsys.readouterr().err


# ---- the reproduction ----------------------------------------------------------------------
def test_evaluation_demo_runs_every_evaluation(tmp_path, monkeypatch):
    from marl.reproductions import cli as reproduce
    from marl.reproductions import evaluation_demo as demo

    # Toy sizes: one trained IPD population (the LOLA config of the fixture above, so its
    # program is compiled once), bots-only Coin Game league, no gridworld (its bots have
    # their own tests).
    monkeypatch.setattr(demo, "IPD_RUNS", {"lola": ["+experiment=lola_ipd", "algo.num_runs=4"]})
    monkeypatch.setattr(demo, "COIN_RUNS", {})
    monkeypatch.setitem(demo.QUICK_STEPS, "ipd_lola", 200)
    monkeypatch.setattr(demo, "SCHELLING", {"spgg": ("always_cooperate", "always_defect")})
    monkeypatch.setattr(demo, "SCENARIOS", {"ipd_among_reciprocators": "run:ipd_lola"})
    assert reproduce.main(["evaluation_demo", "--quick", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "summary.json").read_text())["results"]
    assert results["league_ipd"]["members"][:2] == ["ipd_lola:seed0", "ipd_lola:seed1"]
    assert results["league_ipd"]["alpharank"]["ranking"][0]["member"] == "always_defect"
    assert results["league_ipd_bots"]["adaptive"]["total_episodes"] > 0
    assert set(results["shapley_spgg"]) == {"ppo", "always_cooperate"}
    assert results["schelling"]["spgg"]["social_dilemma"]
    assert results["scenarios"]["ipd_among_reciprocators"]["focal_per_capita_return"] > -150
    for figure in (
        "league_ipd/response_graph.png",
        "league_coin_game/league.png",
        "shapley/shapley.png",
        "schelling_spgg/schelling.png",
    ):
        assert (tmp_path / figure).exists(), figure

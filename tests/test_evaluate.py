"""marl-eval and the one policy interface: scripted play-offs, trained runs, errors."""

import json

import jax
import numpy as np
import pytest
from training import run

import marl
from marl.config import ConfigError
from marl.evaluation.crossplay import evaluate, main, play_off, scripted
from marl.policy import load
from marl.rollout import policy_rollout

KEY = jax.random.PRNGKey(0)


def test_scripted_play_off_gives_the_payoffs_of_the_ipd():
    env, params = marl.make("ipd")
    rows = scripted("always_defect", env)
    cols = scripted("always_cooperate", env)
    focal, other = play_off(env, params, rows, cols, KEY, num_envs=2, steps=10)
    np.testing.assert_allclose(focal, [[0.0]])  # D against C: temptation 0
    np.testing.assert_allclose(other, [[-3.0]])  # sucker's payoff
    focal, other = play_off(env, params, scripted("tit_for_tat", env), rows, KEY, 2, 12)
    # Within an episode (horizon 100), tit-for-tat is exploited on the first step only.
    np.testing.assert_allclose(focal, [[(-3 - 2 * 11) / 12]], rtol=1e-6)


def test_coin_game_bots_cooperate_and_defect():
    env, params = marl.make("coin_game")
    cooperator, defector = scripted("always_cooperate", env), scripted("always_defect", env)
    together, _ = play_off(env, params, cooperator, cooperator, KEY, 16, 100)
    exploit, victim = play_off(env, params, defector, cooperator, KEY, 16, 100)
    assert together[0, 0] > 0.25  # own coins only: about 0.34 per step each
    assert exploit[0, 0] > together[0, 0] > victim[0, 0]


@pytest.fixture(scope="module")
def lola_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lola")
    return run(out, "+experiment=lola_ipd", "num_seeds=2", "num_chunks=2", "algo.num_runs=4")


def test_trained_run_against_bots_and_in_self_play(lola_run, tmp_path):
    result = evaluate(
        lola_run, against="always_cooperate,always_defect", steps=60, num_envs=8, out=tmp_path
    )
    assert result["rows"] == ["run:seed0", "run:seed1"]
    assert result["columns"] == ["always_cooperate", "always_defect", "run:seed0", "run:seed1"]
    focal = np.asarray(result["focal_reward_per_step"])
    other = np.asarray(result["opponent_reward_per_step"])
    assert focal.shape == other.shape == (2, 4)
    # LOLA learns tit-for-tat-like play: cooperates with a cooperator, is not exploited by a
    # defector (after its first move), and cooperates with itself.
    assert (focal[:, 0] > -1.3).all()
    assert (focal[:, 1] < -1.8).all() and (other[:, 1] > focal[:, 1]).all()
    assert (np.diag(focal[:, 2:]) > -1.3).all()
    stored = json.loads((tmp_path / "eval.json").read_text())
    assert stored["focal_reward_per_step"] == result["focal_reward_per_step"]
    assert (tmp_path / "eval.png").stat().st_size > 0
    again = evaluate(
        lola_run,
        against="always_cooperate,always_defect",
        steps=60,
        num_envs=8,
        out=tmp_path / "again",
    )
    assert again["focal_reward_per_step"] == result["focal_reward_per_step"]  # deterministic


def test_loaded_policy_plays_through_the_policy_interface(lola_run):
    loaded = load(lola_run, seed=1)
    rewards, done = jax.jit(
        lambda k: policy_rollout(loaded.env, loaded.env_params, loaded.policy, k, 120)
    )(KEY)
    assert rewards.shape == (120, 2)
    assert np.flatnonzero(done).tolist() == [99]  # the horizon ends the episode; play goes on
    with pytest.raises(ValueError, match="seeds 0..1"):
        load(lola_run, seed=2)


def test_bad_input_fails_clearly(lola_run, tmp_path, capsys):
    with pytest.raises(ConfigError, match="not a scripted policy for ipd"):
        evaluate(lola_run, against="grab_coins")
    other = run(
        tmp_path,
        "env=stag_hunt",
        "algo=lola",
        "num_seeds=1",
        "num_chunks=1",
        "total_steps=2",
        "algo.num_runs=2",
    )
    with pytest.raises(ConfigError, match="--crossplay: .* was trained on stag_hunt"):
        evaluate(lola_run, crossplay=other)
    assert main([str(tmp_path / "missing")]) == 2
    assert "no config.yaml" in capsys.readouterr().err

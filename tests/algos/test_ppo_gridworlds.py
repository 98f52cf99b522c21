"""PPO with the CNN torso runs on the gridworlds through the one driver (tiny sizes).

The same `marl-train env=<name> algo=ppo algo.network.torso=cnn` command for all of
them: no environment-specific code in the algorithm. Learning on the large maps is a
GPU-sized job; here each run checks that the losses are finite, that the convolution
reads the game's observation channels, and that the game's own statistics are logged.
"""

import numpy as np
import pytest
from training import rows, run

import marl
from marl.policy import load_run

# coin_game's learning tests are in test_ppo_coin_game.py (its 3 x 3 grid suits the MLP).
# Gathering and Harvest run on the same engine and observation code as Cleanup, so one
# engine gridworld (the one with the most channels) covers them: each run is a CNN
# compile of half a minute on a small CPU.
GRIDWORLDS = [n for n in ("coin_game", "cleanup") if n in marl.list_envs()]
# The statistic each game adds to the social metrics (see its docs page).
GAME_METRIC = {
    "coin_game": "own_coin_proportion",
    "cleanup": "cleaning_rate",
}  # gathering and harvest: zap_rate
TINY = (
    "algo=ppo",
    "algo.network.torso=cnn",
    "algo.network.channels=[4]",
    "algo.network.hidden=[8]",
    "algo.num_envs=2",
    "algo.num_steps=4",
    "algo.update_epochs=1",
    "algo.num_minibatches=1",
    "num_seeds=1",
    "total_steps=16",
    "num_chunks=2",
)


@pytest.mark.parametrize("name", GRIDWORLDS)
def test_cnn_ppo_trains_on_coin_game_and_an_engine_gridworld(tmp_path, name):
    out = run(tmp_path, f"env={name}", "env.args.episode_length=3", *TINY)
    last = rows(out)[-1]
    assert np.isfinite(last["loss/policy"]) and np.isfinite(last["loss/value"])
    assert last["episode_length"] == 3
    assert f"step/{GAME_METRIC[name]}" in last
    run_ = load_run(out)
    kernel = run_.state.params["actor"]["params"]["Torso_0"]["Conv_0"]["kernel"]
    assert kernel.shape[-2] == run_.env.observation_space(run_.env_params).shape[-1]

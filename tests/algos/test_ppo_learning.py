"""PPO learns what the games predict (tiny configs, fixed seeds, the shipped experiments)."""

import pytest
from training import rows, run


def final(run_dir) -> dict:
    return rows(run_dir)[-1]


def test_ppo_learns_to_cooperate_with_tit_for_tat(tmp_path):
    last = final(run(tmp_path, "+experiment=ipd_vs_tit_for_tat"))
    assert last["learners/cooperation_rate"] > 0.9


def test_ppo_defects_against_always_defect(tmp_path):
    last = final(run(tmp_path, "+experiment=ipd_vs_always_defect"))
    assert 1 - last["learners/cooperation_rate"] > 0.9


def test_ppo_contributes_when_all_contribute_is_the_unique_spne(tmp_path):
    out = run(tmp_path, "+experiment=spgg_mac_all_contribute")
    history = rows(out)
    assert history[-1]["contribution_rate"] > 0.9
    assert history[-1]["contribution_rate"] > history[0]["contribution_rate"]  # it learned


def test_ppo_free_rides_in_the_classic_game(tmp_path):
    last = final(run(tmp_path, "+experiment=spgg_classic_free_ride"))
    assert last["contribution_rate"] < 0.1
    assert last["episode_return_mean"] == pytest.approx(1.0, abs=0.05)  # nobody contributes


def test_collective_reward_from_the_config_turns_self_play_to_cooperation(tmp_path):
    common = ("env=ipd", "env.args.horizon=16", "total_steps=24576", "num_chunks=4", "num_seeds=1")
    selfish = final(run(tmp_path, *common, name="selfish"))
    shared = final(run(tmp_path, *common, "env.reward_transform=collective", name="shared"))
    assert selfish["cooperation_rate"] < 0.2
    assert shared["cooperation_rate"] > 0.9

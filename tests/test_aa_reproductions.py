"""The Advantage Alignment reproductions (marl/reproductions/aa.py), at toy sizes."""

import json
from pathlib import Path

import pytest

from marl.reproductions import aa
from marl.reproductions import cli as reproduce


def test_scripted_pairs_give_the_coin_game_reference_points():
    # The --quick sizes: aa_coin_game's own calls below reuse these compiled programs.
    pair = lambda a, b: aa.scripted_pair_reward(a, b, **aa.PAIRS_QUICK)  # noqa: E731
    cooperators = pair("always_cooperate", "always_cooperate")
    robbed, robber = pair("always_cooperate", "always_defect")
    grabbers = pair("always_defect", "always_defect")
    assert cooperators == pytest.approx([0.335, 0.335], abs=0.03)  # the game's rules: ~0.35
    assert robbed < -0.2 and robber > 0.5  # the own-coin player is exploited
    assert grabbers == pytest.approx([0.0, 0.0], abs=0.03)  # the game's rules: ~0


def test_aa_coin_game_trains_evaluates_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(aa, "COIN_QUICK", ["num_seeds=2", "total_steps=1600", "num_chunks=2"])
    monkeypatch.setattr(aa, "COIN_EVAL_QUICK", {"steps": 20, "num_envs": 2})
    assert reproduce.main(["aa_coin_game", "--out", str(tmp_path), "--quick"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["results"]
    for name in ("paa", "ppo"):
        result = summary[name]
        assert len(result["self_play_per_seed"]) == 2
        assert len(result["vs_always_defect_per_seed"]) == 2
        assert result["cross_play"] is not None
        assert Path(result["eval_heatmap"]).exists()
    assert set(summary["paa_meets_targets"]) == set(aa.COIN_TARGETS)
    assert set(summary["scripted_pairs"]) == {
        "always_cooperate_vs_always_cooperate",
        "always_cooperate_vs_always_defect",
        "always_defect_vs_always_defect",
    }
    assert (tmp_path / "reward_per_step.png").exists()

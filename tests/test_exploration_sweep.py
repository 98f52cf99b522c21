"""The exploration-versus-cooperation benchmark (marl/reproductions/exploration.py) on a
tiny grid."""

import csv
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from marl.algos.dqn import DQNConfig
from marl.config import ConfigError
from marl.reproductions import cli as reproduce
from marl.reproductions import exploration as sweep

# A 4 x 4 lattice for 48 steps in 3 chunks: learning from step 8, evaluation (the last
# chunk) from step 32.
TINY = sweep.Sweep(
    env="spatial_pd",
    overrides=(
        "+experiment=exploration_spd",
        "env.args.size=4",
        "total_steps=48",
        "num_chunks=3",
        "algo.buffer_size=320",
        "algo.batch_size=8",
        "algo.learning_starts=8",
        "algo.learning_stops=32",
        "algo.explore_steps=32",
        "algo.target_every=8",
    ),
    sharing=sweep.SPD_SHARING,
    explore_starts=(0.2, 0.6),
    seeds=2,
    env_param="dilemma",
    env_values=(0.1, 0.4),
)


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """reproduce.py exploration_vs_cooperation --quick with the TINY preset: its folder."""
    out = tmp_path_factory.mktemp("quick")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sweep.PRESETS, ("spatial_pd", True), TINY)
        assert reproduce.main(["exploration_vs_cooperation", "--out", str(out), "--quick"]) == 0
    return out


def read_results(out: Path) -> tuple[tuple, list[dict]]:
    with (out / "results.csv").open() as f:
        reader = csv.DictReader(f)
        return tuple(reader.fieldnames), list(reader)


def test_quick_benchmark_writes_one_row_per_run_a_summary_and_figures(quick):
    tmp_path = quick
    columns, rows = read_results(quick)
    assert columns == sweep.SPD_COLUMNS
    runs = {(r["sharing"], float(r["Dr"]), float(r["tau_init"]), int(r["seed"])) for r in rows}
    expected = {
        (s, d, t, k) for s in TINY.sharing for d in (0.1, 0.4) for t in (0.2, 0.6) for k in (0, 1)
    }
    assert len(rows) == len(expected) and runs == expected
    for row in rows:
        assert 0.0 <= float(row["cooperation"]) <= 1.0
        assert math.isfinite(float(row["q_gap_all_c"]))
        # B: the mean temperature of the schedule's first half lies between its ends
        assert 0.1 < float(row["B"]) < float(row["tau_init"])

    summary = json.loads((tmp_path / "summary.json").read_text())
    results = summary["results"]
    assert len(results["table"]) == 3 * 2 * 2  # sharing x Dr x tau, means over seeds
    assert all(entry["seeds"] == 2 for entry in results["table"])
    for name in results["files"]:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG" or name.endswith(".csv")
    assert {"cooperation_vs_B.png", "q_gap_vs_B.png"} <= set(results["files"])


def test_a_cell_of_the_vmapped_grid_equals_that_cell_run_alone(quick):
    grid = {
        (float(r["Dr"]), float(r["tau_init"]), int(r["seed"])): r
        for r in read_results(quick)[1]
        if r["sharing"] == "shared"
    }
    alone = replace(TINY, sharing={"shared": ()}, env_values=(0.4,), explore_starts=(0.6,))
    for row in sweep.run_mode(alone, "shared", print)["rows"]:
        twin = grid[0.4, 0.6, row["seed"]]
        assert row["cooperation"] == pytest.approx(float(twin["cooperation"]), abs=1e-6)
        assert row["q_gap_all_c"] == pytest.approx(float(twin["q_gap_all_c"]), rel=1e-5, abs=1e-6)


def test_exploration_intensity_is_the_papers_075_tau_plus_0025():
    config = DQNConfig(
        exploration="boltzmann", explore_end=0.1, explore_steps=95_000, learning_stops=95_000
    )
    for tau in (0.127, 0.727):
        assert sweep.exploration_intensity(config, tau) == pytest.approx(0.75 * tau + 0.025, 1e-4)


def test_each_mode_is_one_marl_train_sweep_whose_evaluation_is_whole_chunks(tmp_path):
    raw = sweep.mode_config(TINY, "groups:10", tmp_path)
    assert raw["sweep"] == {
        "env": {"args": {"dilemma": [0.1, 0.4]}},
        "algo": {"explore_start": [0.2, 0.6]},
    }
    assert raw["algo"]["sharing"] == "groups:10" and raw["num_seeds"] == 2
    misaligned = replace(TINY, overrides=(*TINY.overrides, "algo.learning_stops=24"))
    with pytest.raises(ConfigError, match="learning_stops=24 must end a chunk of 16"):
        sweep.run_mode(misaligned, "shared", print, tmp_path / "run")


def test_bad_choices_fail_before_anything_compiles(tmp_path):
    with pytest.raises(ConfigError, match="--env"):
        sweep.exploration_vs_cooperation(tmp_path, True, env="nowhere")
    with pytest.raises(ConfigError, match="seeds"):
        sweep.check_sweep(replace(TINY, seeds=0))
    with pytest.raises(SystemExit):  # a reproduction without an env choice refuses --env
        reproduce.main(["lola_ipd", "--out", str(tmp_path), "--env", "harvest"])
    with pytest.raises(ConfigError, match="--sharing"):
        sweep.exploration_vs_cooperation(tmp_path, True, sharing="shared,everyone")
    with pytest.raises(ConfigError, match="seeds"):
        sweep.exploration_vs_cooperation(tmp_path, True, seeds=0)
    with pytest.raises(SystemExit):
        reproduce.main(["lola_ipd", "--out", str(tmp_path), "--seeds", "3"])

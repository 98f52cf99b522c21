"""marl-report: runs, sweeps and multiruns become a table with CIs over seeds, and figures."""

import csv
import json

import numpy as np
import pytest
import yaml
from training import TINY_IPD, run

from marl.report import main, report
from marl.report.stats import estimate, final_scores

TINY_SWEEP = (*TINY_IPD, "num_seeds=4", "sweep.algo.lr=[0.003,0.03]")


def table(out) -> list[dict]:
    with (out / "table.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_tiny_sweep_gives_a_table_whose_cis_contain_the_seeds_mean(tmp_path):
    swept = run(tmp_path, *TINY_SWEEP, name="sweep")
    done = report([swept], tmp_path / "out", metrics=["cooperation_rate"])
    lines = table(tmp_path / "out")
    assert [(r["cell"], r["algo.lr"], r["n"]) for r in lines] == [
        ("0", "0.003", "4"),
        ("1", "0.03", "4"),
    ]
    last = {
        r["cell"]: r for r in map(json.loads, (swept / "metrics.jsonl").read_text().splitlines())
    }
    seeds = np.load(swept / "seeds" / "chunk_00001.npz")["cooperation_rate"]  # [cells * seeds]
    for line, cell in zip(lines, (0, 1), strict=True):
        mine = seeds[cell * 4 : (cell + 1) * 4]
        mean, low, high = float(line["mean"]), float(line["ci_low"]), float(line["ci_high"])
        assert mean == pytest.approx(mine.mean()) == pytest.approx(last[cell]["cooperation_rate"])
        assert low <= mean <= high and low >= mine.min() and high <= mine.max()
    assert "curves_cooperation_rate.png" in done["files"]
    assert "cooperation_rate_vs_algo_lr.png" in done["files"]
    assert "0.03 |" in (tmp_path / "out" / "table.md").read_text()


def fake_run(folder, config: dict, per_seed: list[list[float]] | None, means=None):
    """A run folder as marl-train writes it: per_seed [seeds][chunks] of `score`."""
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    chunks = len(per_seed[0]) if per_seed else len(means)
    rows = []
    for chunk in range(chunks):
        values = [s[chunk] for s in per_seed] if per_seed else [means[chunk]]
        rows.append({"chunk": chunk, "step": 100 * (chunk + 1), "score": float(np.mean(values))})
        if per_seed:
            (folder / "seeds").mkdir(exist_ok=True)
            np.savez(folder / "seeds" / f"chunk_{chunk:05d}.npz", step=100, score=np.array(values))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def base_config(**changes) -> dict:
    config = {"env": {"name": "ipd"}, "algo": {"name": "ppo", "lr": 0.01}, "seed": 0}
    config["num_seeds"] = 2
    config["run_dir"] = "somewhere"
    for key, value in changes.items():
        section, name = key.split("__")
        config.setdefault(section, {})[name] = value
    return config


def test_multirun_folders_pool_seeds_and_name_the_differing_keys(tmp_path):
    multirun = tmp_path / "multirun"
    fake_run(multirun / "0", {**base_config(), "seed": 0}, [[1.0, 2.0], [1.0, 4.0]])
    fake_run(multirun / "1", {**base_config(), "seed": 1}, [[1.0, 6.0], [1.0, 8.0]])
    fake_run(multirun / "2", base_config(algo__lr=0.1), [[0.0, 1.0], [0.0, 3.0]])
    done = report([multirun], tmp_path / "out", metrics=["score"])
    assert done["factors"] == ["algo.lr"]
    lines = table(tmp_path / "out")
    assert [(r["algo.lr"], r["n"], float(r["mean"])) for r in lines] == [
        ("0.01", "4", 5.0),  # seeds of runs 0 and 1 pooled
        ("0.1", "2", 2.0),
    ]


def test_last_k_averages_each_seeds_last_chunks(tmp_path):
    fake_run(tmp_path / "run", base_config(), [[1.0, 3.0, 5.0], [3.0, 5.0, 7.0]])
    report([tmp_path / "run"], tmp_path / "out", metrics=["score"], last=2)
    assert float(table(tmp_path / "out")[0]["mean"]) == pytest.approx(5.0)


def test_runs_without_per_seed_files_count_as_one_sample(tmp_path):
    fake_run(tmp_path / "old", base_config(), None, means=[1.0, 2.5])
    done = report([tmp_path / "old"], tmp_path / "out", metrics=["score"])
    (line,) = table(tmp_path / "out")
    assert (line["n"], float(line["mean"]), line["per_seed"]) == ("1", 2.5, "False")
    assert done["cells"][0]["estimates"]["score"]["ci_low"] == 2.5


def test_estimate_is_reproducible_and_brackets_the_mean():
    scores = np.array([0.1, 0.5, 0.9, 0.4, np.nan])
    first, again = estimate(scores, reps=500), estimate(scores, reps=500)
    assert first == again and first.n == 4
    assert first.mean == pytest.approx(0.475)
    assert first.ci_low < first.mean < first.ci_high
    assert estimate(np.array([np.nan])) is None
    np.testing.assert_allclose(final_scores(np.array([[1.0, np.nan]]), 2), [1.0])


def test_the_command_line_reports_a_missing_metric_and_folder(tmp_path, capsys):
    fake_run(tmp_path / "run", base_config(), [[1.0], [2.0]])
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "run"), "--metric", "nope"])
    assert exit_info.value.code == 2
    assert (
        "marl-report: error: no run has the metric nope; metrics: score" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        main([str(tmp_path / "missing")])
    assert "does not exist" in capsys.readouterr().err
    main([str(tmp_path / "run"), "--metric", "score", "--out", str(tmp_path / "cli")])
    assert "| 0 | 1.5 [" in capsys.readouterr().out

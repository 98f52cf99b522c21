"""The training driver: outputs, determinism, resume, interruption, NaN, config checks."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from training import config, numbers, rows, run

from marl import train as driver
from marl.config import ConfigError
from marl.training.checkpoint import CheckpointMismatch
from marl.training.logger import Logger
from marl.training.program import culprits, hint

TINY = (
    "env=ipd",
    "env.args.horizon=16",
    "total_steps=4096",
    "num_chunks=4",
    "algo.num_envs=8",
    "algo.num_steps=32",
)


def test_run_writes_metrics_config_summary_plots_and_checkpoints(tmp_path):
    out = run(tmp_path, *TINY)
    history = rows(out)
    assert [r["chunk"] for r in history] == [0, 1, 2, 3]
    assert [r["step"] for r in history] == [1024, 2048, 3072, 4096]
    for key in (
        "episode_return_mean",
        "efficiency",
        "equality",
        "sustainability",
        "peace",
        "cooperation_rate",
    ):
        assert key in history[-1] and f"{key}_std" in history[-1]
        assert np.isfinite(history[-1][key])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] and summary["chunks_done"] == 4
    assert (out / "config.yaml").exists()
    assert (out / "learning_curves.png").stat().st_size > 10_000
    assert (out / "social_metrics.png").stat().st_size > 10_000
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["2", "3"]


def test_same_seed_and_config_give_identical_metrics(tmp_path):
    first = rows(run(tmp_path, *TINY, name="a"))
    second = rows(run(tmp_path, *TINY, name="b"))
    assert [numbers(r) for r in first] == [numbers(r) for r in second]
    other = rows(run(tmp_path, *TINY, "seed=1", name="c"))
    assert [numbers(r) for r in other] != [numbers(r) for r in first]


def test_a_run_stopped_and_resumed_ends_like_an_uninterrupted_one(tmp_path):
    whole = rows(run(tmp_path, *TINY, name="whole"))
    part = run(tmp_path, *TINY, name="part", stop_after=2)
    assert len(rows(part)) == 2
    driver.train({"resume": str(part), "progress": False})
    resumed = rows(part)
    assert [numbers(r) for r in resumed] == [numbers(r) for r in whole]


def test_ctrl_c_leaves_a_checkpoint_that_resumes(tmp_path, monkeypatch):
    original = Logger.log
    calls = []

    def log_then_interrupt(self, chunk_rows, *args):
        original(self, chunk_rows, *args)
        calls.append(chunk_rows[0]["chunk"])
        if calls[-1] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(Logger, "log", log_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, *TINY, name="cut")
    # chunk 1 was logged but its checkpoint not saved: the summary counts chunk 0 only, and
    # resume redoes chunk 1, without duplicates
    summary = json.loads((tmp_path / "cut" / "summary.json").read_text())
    assert summary["interrupted"] and summary["chunks_done"] == 1
    monkeypatch.setattr(Logger, "log", original)
    driver.train({"resume": str(tmp_path / "cut"), "progress": False})
    assert [r["chunk"] for r in rows(tmp_path / "cut")] == [0, 1, 2, 3]


def test_resume_with_a_different_config_is_refused(tmp_path):
    part = run(tmp_path, *TINY, name="part", stop_after=1)
    with pytest.raises(CheckpointMismatch, match=r"made with algo.lr=0.003.*asks for algo.lr=0.1"):
        driver.train({"resume": str(part), "algo.lr": 0.1})


def test_resume_of_a_folder_without_a_run_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="has no config.yaml"):
        driver.train({"resume": str(tmp_path)})


def test_a_new_run_into_a_used_run_dir_is_refused(tmp_path):
    run(tmp_path, *TINY, name="used", stop_after=1)
    with pytest.raises(ConfigError, match="already holds a run"):
        run(tmp_path, *TINY, name="used")


def test_nan_stops_the_run_naming_the_chunk_and_the_first_nonfinite_quantity(tmp_path):
    with pytest.raises(driver.NonFiniteError, match=r"chunk 0 \(env steps 0-1024\)") as err:
        run(tmp_path, *TINY, "algo.lr=1e30", "algo.max_grad_norm=1e30")
    # The rewards stay finite: the blame goes to a loss or a named parameter leaf.
    assert re.search(r"first non-finite: (loss/\w+|the learner state at \S+);", str(err.value))
    assert "environment" not in str(err.value)
    assert rows(tmp_path / "run") == []


def test_the_nan_culprit_is_rewards_then_losses_then_the_state_leaf():
    nan = float("nan")
    metrics = {  # [updates, members]
        "reward_mean": np.array([[0.0, 1.0, 1.0], [nan, 1.0, 1.0]]),
        "loss/value": np.array([[nan, 0.5, 0.5], [1.0, nan, 0.5]]),
        "cooperation_rate": np.full((2, 3), nan),  # undefined rates are not failures
    }
    leaves = np.array([[False, True], [True, False], [True, False]])
    names = ["['params']['w']", "['opt']['mu']"]
    found = culprits(metrics, leaves, names, size=3)
    assert found == {0: "reward_mean", 1: "loss/value", 2: "the learner state at ['opt']['mu']"}
    assert "environment" in hint(found[0])
    assert "learning rate" in hint(found[2])


@pytest.mark.parametrize(
    "override, match",
    [
        ("+algo.lrr=0.1", r"unknown key algo.lrr in algo; allowed keys: name, num_envs"),
        ("+bogus=1", r"unknown key bogus"),
        ("algo.lr=fast", r"algo.lr='fast' is not allowed; expected a number"),
        ("algo.num_envs=2.5", r"algo.num_envs=2.5 is not allowed; expected an integer"),
        ("algo.gamma=1.5", r"algo.gamma=1.5 .* a number in \[0, 1\]"),
        ("algo.num_minibatches=3", r"algo.num_minibatches=3 .* a divisor of num_envs \* num_steps"),
        ("algo.sharing=groups:x", r"shared, independent or groups:K"),
        ("algo.critic=global", r"local or central"),
        ("env.name=ipdd", r"unknown environment 'ipdd'"),
        ("+env.args.horizn=3", r"unknown override horizn"),
        ("algo.name=dqnn", r"unknown algorithm 'dqnn'"),
        ("+scripted.1=grim", r"unknown scripted policy 'grim'"),
        ("+scripted.5=tit_for_tat", r"agent slots 0..1"),
        ("total_steps=100", r"total_steps=100 gives 0 updates"),
        ("total_steps=4000", r"not a whole number of chunks.*use total_steps=3072 or 4096"),
        ("algo.lr=nan", r"algo.lr=nan is not allowed; expected a finite number"),
        ("algo.max_grad_norm=inf", r"algo.max_grad_norm=inf .* a finite number"),
        ("seed=4294967296", r"seed=4294967296 .* an integer in \[0, 2\*\*32\)"),
        ("seed=-1", r"seed=-1 .* an integer in \[0, 2\*\*32\)"),
        ("algo.network.torso=transformer", r"torso='transformer' .* mlp or cnn"),
        ("wandb.mode=loud", r"offline, online, disabled"),
    ],
)
def test_bad_config_fails_before_compiling_with_key_and_allowed_values(tmp_path, override, match):
    raw = config(f"run_dir={tmp_path}", *TINY, override)
    with pytest.raises(ValueError, match=match):
        driver.setup(raw)


@pytest.mark.parametrize(
    "algo, override, match",
    [
        ("dqn", "algo.network.torso=transformer", r"torso='transformer' .* mlp or cnn"),
        ("dqn", "algo.lr=nan", r"algo.lr=nan .* a finite number"),
        ("lola_dice", "algo.network.activation=gelu", r"activation='gelu' .* tanh or relu"),
        ("lola_dice", "algo.outer_lr=-inf", r"algo.outer_lr=-inf .* a finite number"),
        ("lola", "algo.lr=nan", r"algo.lr=nan .* a finite number"),
        ("aa", "algo.beta=inf", r"algo.beta=inf .* a finite number"),
    ],
)
def test_every_algorithm_refuses_nonfinite_numbers_and_unknown_networks(algo, override, match):
    with pytest.raises(ValueError, match=match):
        driver.setup(config(f"algo={algo}", "env=ipd", override))


def test_scripted_policy_that_does_not_fit_the_env_is_refused(tmp_path):
    raw = config(f"run_dir={tmp_path}", "env=spgg", "+scripted.1=tit_for_tat")
    with pytest.raises(ValueError, match="tit_for_tat.*needs one of: MatrixGame"):
        driver.setup(raw)


def test_marl_train_command_runs_sweeps_in_parallel_jobs(tmp_path):
    """Two jobs of a --multirun in parallel processes (the joblib launcher), each an
    in-program sweep typed as users do (sweep.<key>=[...], no leading +)."""
    base = [sys.executable, "-c", "from marl.train import main; main()"]
    sweep = subprocess.run(
        [
            *base,
            "--multirun",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *TINY,
            "seed=0,1",
            "sweep.algo.lr=[0.003,0.03]",
            "wandb.mode=disabled",
            "progress=false",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    assert "Joblib.Parallel(n_jobs=2" in sweep.stdout + sweep.stderr
    for job in ("0", "1"):
        assert [r["cell"] for r in rows(tmp_path / "sweep" / job)] == [0, 1] * 4
        stored = yaml.safe_load((tmp_path / "sweep" / job / "config.yaml").read_text())
        assert stored["wandb"]["group"] == "sweep"  # the jobs of one multirun: one group
    assert rows(tmp_path / "sweep" / "0") != rows(tmp_path / "sweep" / "1")


@pytest.mark.parametrize(
    "launcher, target",
    [("local", "joblib_launcher.JoblibLauncher"), ("slurm", "SlurmLauncher")],
)
def test_shipped_launcher_configs_select_their_hydra_launchers(launcher, target):
    from hydra import compose, initialize_config_module

    with initialize_config_module("marl.configs", version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)


def test_an_unknown_compiler_option_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="compiler_options=.*xla_bogus_option.*cpu compiler"):
        run(tmp_path, *TINY, "++compiler_options.xla_bogus_option=1")

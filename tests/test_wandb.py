"""wandb as its users expect: its environment variables, and one wandb run per run folder."""

import pytest
from training import TINY_IPD, config

from marl.config import ConfigError, RunConfig, WandbConfig, build
from marl.train import train


def test_environment_variables_apply_where_the_config_leaves_a_key_null(tmp_path):
    environ = {
        "WANDB_MODE": "online",
        "WANDB_PROJECT": "theirs",
        "WANDB_ENTITY": "lab",
        "WANDB_RUN_GROUP": "g",
        "WANDB_DIR": "/elsewhere",
    }
    got = WandbConfig().init_kwargs(tmp_path / "run7", environ)
    assert got == {
        "mode": "online",
        "project": "theirs",
        "entity": "lab",
        "group": "g",
        "tags": None,
        "name": "run7",
        "dir": "/elsewhere",
    }
    mine = WandbConfig(mode="disabled", project="mine", group="h", tags=("a",), name="n")
    got = mine.init_kwargs(tmp_path / "run7", environ)
    assert (got["mode"], got["project"], got["group"], got["tags"], got["name"]) == (
        "disabled",
        "mine",
        "h",
        ["a"],
        "n",
    )
    # Without either: offline (no network), project marl, files in the run folder.
    got = WandbConfig().init_kwargs(tmp_path / "run7", {})
    assert (got["mode"], got["project"], got["dir"]) == ("offline", "marl", str(tmp_path / "run7"))


def test_a_bad_wandb_mode_from_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "loud")
    with pytest.raises(ConfigError, match=r"\$WANDB_MODE='loud' is not allowed"):
        build(RunConfig, {})


def test_a_resumed_run_continues_the_same_offline_wandb_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb_files"))
    monkeypatch.setenv("WANDB_PROJECT", "from_env")
    monkeypatch.delenv("WANDB_MODE", raising=False)
    raw = config(f"run_dir={tmp_path / 'run'}", *TINY_IPD)
    raw["wandb"] = {"mode": None, "tags": ["t1"]}  # null: the environment's, else offline
    run_dir = train(raw, stop_after=1)
    run_id = (run_dir / "wandb_id").read_text().strip()
    train({"resume": str(run_dir), "progress": False})
    assert (run_dir / "wandb_id").read_text().strip() == run_id
    runs = sorted((tmp_path / "wandb_files" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2 and all(r.name.endswith(f"-{run_id}") for r in runs)
    assert not (run_dir / "wandb").exists()  # WANDB_DIR, not the run folder
    record = (runs[0] / f"run-{run_id}.wandb").read_bytes()
    assert b"from_env" in record and b"t1" in record  # the project and the tag reached wandb


def test_a_wandb_that_cannot_start_fails_before_the_compile(tmp_path, monkeypatch):
    import wandb

    from marl.training.program import Program

    def no_login(**kwargs):
        raise wandb.errors.UsageError("api_key not configured (no-tty)")

    def compile_(*args, **kwargs):
        raise AssertionError("compiled")

    monkeypatch.setattr(wandb, "init", no_login)
    monkeypatch.setattr(Program, "build", compile_)
    raw = config(f"run_dir={tmp_path / 'run'}", *TINY_IPD)
    raw["wandb"] = {"mode": "online"}
    with pytest.raises(ConfigError, match=r"wandb: could not start a online run .*api_key"):
        train(raw)

"""Run-folder guarantees: one writer (lock), no run overwritten, torn metrics lines and
damaged checkpoints survived, finished runs left alone, interrupts never half-save."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from training import TINY_IPD, config, numbers, rows, run

from marl import train as driver
from marl.config import ConfigError
from marl.training.checkpoint import CheckpointDamaged, Checkpointer
from marl.training.folder import LOCK_NAME, RunFolderLocked, RunLock
from marl.training.logger import Logger

# The same chunk program as TINY_IPD (4 updates per chunk), one chunk more.
THREE_CHUNKS = (*TINY_IPD, "total_steps=3072", "num_chunks=3")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _write_lock(folder: Path, pid: int, host: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    owner = {"pid": pid, "host": host, "started": "2026-12-01T10:00:00+0000"}
    (folder / LOCK_NAME).write_text(json.dumps(owner))


def test_a_folder_locked_by_a_running_process_is_refused_naming_it(tmp_path):
    lock = RunLock(tmp_path / "run")
    lock.acquire()  # this test process plays the other marl-train, still running
    try:
        with pytest.raises(RunFolderLocked, match=rf"in use by marl-train pid {os.getpid()}"):
            run(tmp_path, *TINY_IPD)
        with pytest.raises(RunFolderLocked, match="in use"):  # breaking a live lock: no
            run(tmp_path, *TINY_IPD, "break_lock=true")
    finally:
        lock.release()
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_a_stale_lock_is_reported_and_broken_only_when_asked(tmp_path):
    folder = tmp_path / "run"
    _write_lock(folder, _dead_pid(), socket.gethostname())
    with pytest.raises(RunFolderLocked, match=r"no longer running.*break_lock=true"):
        run(tmp_path, *TINY_IPD)
    _write_lock(folder, 1234, "another-host")
    with pytest.raises(RunFolderLocked, match=r"host another-host.*cannot check"):
        run(tmp_path, *TINY_IPD)
    run(tmp_path, *TINY_IPD, "break_lock=true")
    assert [r["chunk"] for r in rows(folder)] == [0, 1]
    assert not (folder / LOCK_NAME).exists()  # released at the end


@pytest.mark.parametrize("name", ["metrics.jsonl", "config.yaml", "summary.json"])
def test_a_folder_with_a_runs_files_but_no_checkpoints_is_refused(tmp_path, name):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / name).write_text("{}\n")
    with pytest.raises(ConfigError, match=rf"already holds a run \({name}\)"):
        run(tmp_path, *TINY_IPD)
    assert sorted(p.name for p in folder.iterdir()) == [name]


def test_run_dir_with_a_tilde_keeps_the_whole_run_in_one_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    raw = config('run_dir="~/x"', *TINY_IPD)
    assert driver.train(raw, stop_after=1) == tmp_path / "home" / "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    driver.train({"resume": "~/x", "progress": False})
    assert [r["chunk"] for r in rows(tmp_path / "home" / "x")] == [0, 1]
    with pytest.raises(ConfigError, match=r"run_dir='' is not allowed"):
        driver.setup(config("run_dir=''", *TINY_IPD))


def test_the_command_writes_nothing_before_the_config_is_accepted(tmp_path):
    previous = tmp_path / "previous"
    _write_lock(previous, os.getpid(), "h")  # something to resume into (and not touch)
    (previous / "config.yaml").write_text("env: {name: ipd}\n")
    before = sorted(p.name for p in previous.iterdir())
    cases = {
        "marl-train: error: config: algo.lr='fast' is not allowed": ["run_dir=x", "algo.lr=fast"],
        "marl-train: error: unknown algorithm": ["resume=previous"],
    }
    for message, args in cases.items():
        out = subprocess.run(
            [sys.executable, "-c", "from marl.train import main; main()", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert out.returncode == 2 and message in out.stderr, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["previous"]  # no runs/, no .hydra
    assert sorted(p.name for p in previous.iterdir()) == before


def test_a_torn_last_metrics_line_is_dropped_and_the_run_resumes(tmp_path, capsys):
    part = run(tmp_path, *THREE_CHUNKS, stop_after=1)
    with (part / "metrics.jsonl").open("a") as f:
        f.write('{"chunk": 1, "step": 20')  # what a kill during the write leaves
    driver.train({"resume": str(part), "progress": False})
    assert "dropping the torn last line" in capsys.readouterr().err
    assert [r["chunk"] for r in rows(part)] == [0, 1, 2]
    # A damaged line before the last is not a torn write: it is named, not dropped.
    lines = (part / "metrics.jsonl").read_text().splitlines()
    (part / "metrics.jsonl").write_text("\n".join([lines[0], "garbage", lines[2]]) + "\n")
    (part / "checkpoints" / "2").rename(tmp_path / "moved")  # resumable again, from chunk 1
    with pytest.raises(ConfigError, match=r"line 2 of .*metrics.jsonl is not a metrics row"):
        driver.train({"resume": str(part), "progress": False})


def _largest_file(folder: Path) -> Path:
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "checksums.json"]
    return max(files, key=lambda p: p.stat().st_size)


def test_finished_resume_does_nothing_and_a_damaged_checkpoint_falls_back(tmp_path, capsys):
    whole = run(tmp_path, *TINY_IPD)
    expected = [numbers(r) for r in rows(whole)]
    summary = (whole / "summary.json").read_text()
    driver.train({"resume": str(whole), "progress": False})
    assert "is finished" in capsys.readouterr().err
    assert (whole / "summary.json").read_text() == summary  # not overwritten

    damaged = _largest_file(whole / "checkpoints" / "1" / "state")
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: caught by the checksum
    damaged.write_bytes(data)
    driver.train({"resume": str(whole), "progress": False})
    err = capsys.readouterr().err
    assert "checkpoint 1 in" in err and "does not match its checksum" in err
    assert "restored checkpoint 0 instead" in err
    assert (whole / "checkpoints_damaged" / "1").is_dir()
    assert [numbers(r) for r in rows(whole)] == expected  # chunk 1 redone, same numbers


def test_checkpointer_names_a_truncated_file_and_fails_when_none_is_intact(tmp_path):
    tree = {"w": jnp.arange(4096.0)}
    with Checkpointer(tmp_path / "ck") as checkpoints:
        checkpoints.save(0, tree, {"chunk": 0})
        checkpoints.save(1, {"w": tree["w"] + 1}, {"chunk": 1})
    for chunk in (1, 0):
        path = _largest_file(tmp_path / "ck" / str(chunk))
        path.write_bytes(path.read_bytes()[:-7])
    with Checkpointer(tmp_path / "ck") as checkpoints:
        with pytest.raises(CheckpointDamaged, match=r"has \d+ bytes, \d+ when saved"):
            checkpoints.verify(1)
        with pytest.raises(CheckpointDamaged, match=r"no intact checkpoint.*checkpoint 1: .*bytes"):
            checkpoints.restore_intact(tree)


def _signal_on(owner, method: str, chunk: int, signum: int, monkeypatch):
    """Sends `signum` to this process as `owner.method` starts for `chunk` (its first
    argument, or the chunk of its first row), as a user's Ctrl-C or a scheduler's SIGTERM
    would."""
    original = getattr(owner, method)

    def send_then_call(self, first, *args, **kwargs):
        if (first if isinstance(first, int) else first[0]["chunk"]) == chunk:
            os.kill(os.getpid(), signum)
        return original(self, first, *args, **kwargs)

    monkeypatch.setattr(owner, method, send_then_call)


def test_ctrl_c_during_a_save_finishes_the_save_and_the_summary_counts_it(tmp_path, monkeypatch):
    # Ctrl-C between orbax's save of chunk 1 and its checksums: mid-save.
    _signal_on(Checkpointer, "_write_checksums", 1, signal.SIGINT, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, *THREE_CHUNKS)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] and summary["chunks_done"] == 2
    with Checkpointer(tmp_path / "run" / "checkpoints") as checkpoints:
        assert checkpoints.latest() == 1
        checkpoints.verify(1)
    assert not (tmp_path / "run" / LOCK_NAME).exists()


def test_sigterm_ends_a_run_like_ctrl_c_and_counts_only_checkpointed_chunks(tmp_path, monkeypatch):
    # SIGTERM arrives between chunk 1's metrics line and its checkpoint.
    _signal_on(Logger, "log", 1, signal.SIGTERM, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, *THREE_CHUNKS)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["interrupted"] and summary["chunks_done"] == 1
    assert summary["final"]["chunk"] == 0
    assert not (tmp_path / "run" / LOCK_NAME).exists()
    monkeypatch.undo()
    driver.train({"resume": str(tmp_path / "run"), "progress": False})
    assert [r["chunk"] for r in rows(tmp_path / "run")] == [0, 1, 2]
    assert np.isfinite(rows(tmp_path / "run")[-1]["episode_return_mean"])

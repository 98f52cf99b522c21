"""Unwritable outputs: `marl.paths.check_writable`, and every CLI failing fast on one
(marl-train's run_dir is set up by marl/training/folder.py, and not tested here)."""

import os
from pathlib import Path

import pytest

from marl import bench, render_cli, report
from marl.evaluation.cli import main as eval_main
from marl.paths import check_writable
from marl.reproductions import cli as reproduce


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("a file, not a folder")
    return path


def test_writable_paths_pass_and_nothing_is_created(tmp_path):
    assert check_writable(tmp_path / "a" / "b" / "x.gif") == tmp_path / "a" / "b" / "x.gif"
    check_writable(tmp_path, folder=True)
    check_writable(tmp_path / "new", folder=True)
    check_writable("relative.json")  # the current folder
    assert list(tmp_path.iterdir()) == []


def test_unwritable_paths_are_refused_with_the_reason(tmp_path, a_file, monkeypatch):
    with pytest.raises(ValueError, match="notes.txt is a file, not a folder"):
        check_writable(a_file / "deeper" / "x.gif")
    with pytest.raises(ValueError, match="it is a folder, not a file"):
        check_writable(tmp_path)
    with pytest.raises(ValueError, match="it is a file, not a folder"):
        check_writable(a_file, folder=True)
    # A read-only folder (simulated: this may run as root, who may write anywhere).
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != readonly and real_access(p, mode))
    with pytest.raises(ValueError, match=f"no write permission on {readonly}"):
        check_writable(readonly / "sub" / "out", folder=True)


def test_marl_render_refuses_an_unwritable_out_before_compiling(a_file, capsys):
    assert render_cli.main(["env=ipd", f"out={a_file / 'x.gif'}"]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_marl_eval_refuses_an_unwritable_out_before_loading(tmp_path, a_file, capsys):
    assert eval_main([str(tmp_path / "run"), "--out", str(a_file / "eval")]) == 2
    assert "marl-eval: cannot write" in capsys.readouterr().err


def test_marl_bench_refuses_an_unwritable_json_before_measuring(a_file, monkeypatch, capsys):
    def measure(*args):
        raise AssertionError("the benchmark ran")

    monkeypatch.setattr(bench.cli, "run_envs", measure)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--envs", "ipd", "--json", str(a_file / "bench.json")])
    assert exit_info.value.code == 2
    assert "--json: cannot write" in capsys.readouterr().err


def test_marl_report_refuses_an_unwritable_out_before_reading_runs(tmp_path, a_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main([str(tmp_path), "--out", str(a_file / "report")])
    assert exit_info.value.code == 2 and "cannot write" in capsys.readouterr().err


def test_reproduce_checks_out_and_options_before_creating_folders(tmp_path, a_file, capsys):
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["lola_ipd", "--out", str(a_file / "out")])
    assert exit_info.value.code == 2 and "cannot write" in capsys.readouterr().err
    out = tmp_path / "new"
    bad_options = {"--env=nowhere": "--env", "--seeds=0": "seeds=0", "--sharing=all": "--sharing"}
    for option, message in bad_options.items():
        with pytest.raises(SystemExit):
            reproduce.main(["exploration_vs_cooperation", "--quick", "--out", str(out), option])
        assert message in capsys.readouterr().err
        assert not out.exists()

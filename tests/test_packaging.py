"""The distribution as a user installs it: a wheel that carries the reproductions and
every config and map they read, and a version from the distribution's metadata."""

import os
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import marl

ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_the_distributions():
    assert marl.__version__ == metadata.version("marl-dilemmas")
    assert (ROOT / "LICENSE").read_text().startswith("\n                                 Apache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (path,) = out.glob("marl_dilemmas-*.whl")
    return path


def test_the_wheel_carries_what_the_reproductions_read(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = sorted((ROOT / "marl" / "reproductions").glob("*.py"))
    assert {f"marl/reproductions/{p.name}" for p in sources} <= names
    experiments = set()
    for source in sources:
        experiments |= set(re.findall(r"\+experiment=(\w+)", source.read_text()))
    assert experiments, "the reproductions name no experiment configs"
    assert {f"marl/configs/experiment/{e}.yaml" for e in experiments} <= names
    for folder, pattern in (("configs", "**/*.yaml"), ("envs/gridworld/maps", "*.txt")):
        shipped = {
            f"marl/{folder}/{p.relative_to(ROOT / folder)}" for p in (ROOT / folder).glob(pattern)
        }
        assert shipped and shipped <= names, folder
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert (
        "marl-reproduce = marl.reproductions:main"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )


def test_marl_reproduce_runs_from_the_installed_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    probe = (
        "import marl, marl.reproductions as r; print(marl.__file__); "
        "r.main(['lola_ipd', '--out', 'x', '--env', 'harvest'])"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    # The options are checked before anything trains: an exit 2 naming the bad option.
    assert done.stdout.startswith(str(site)), done.stdout + done.stderr[-2000:]
    assert done.returncode == 2 and "lola_ipd offers no --env choice" in done.stderr

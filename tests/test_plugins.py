"""A user's own env as an installed plugin package: the walk-through of docs/api.md
("Write your own environment"), extracted from the page, installed and run."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import marl
import marl.testing
from marl import plugins

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
SECTION = "## Write your own environment"
# Each command of the page's bash block, run at a test's size (appended arguments).
SMALLER = {
    "marl-train": [
        "total_steps=2560",
        "num_chunks=2",
        "algo.num_envs=8",
        "algo.num_steps=16",
        "wandb.mode=disabled",
        "progress=false",
    ],
    "marl-eval": ["--steps", "20", "--num-envs", "4"],
    "marl-render": ["--steps", "6"],
    "marl-bench": ["--num-envs", "4", "--steps", "8", "--repeats", "1"],
}


def walkthrough() -> str:
    text = DOC.read_text()
    start = text.index(SECTION)
    return text[start : text.index("\n## ", start + len(SECTION))]


def doc_files(section: str) -> dict[str, str]:
    """The page's code blocks that open with `# file: PATH`: PATH -> contents."""
    files = {}
    for block in re.findall(r"```\w+\n(.*?)```", section, re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("# file: "):
            files[first.removeprefix("# file: ").strip()] = rest
    return files


def doc_commands(section: str) -> list[str]:
    (block,) = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> dict:
    """The walk-through's package, installed (with its entry points) into a folder of its
    own; the environment for processes that see it."""
    root = tmp_path_factory.mktemp("plugin")
    source, site = root / "my-marl-game", root / "site"
    for name, contents in doc_files(walkthrough()).items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(contents)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*pip, "--target", str(site), str(source)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return {"root": root, "source": source, "env": {**os.environ, "PYTHONPATH": path}}


def run(command: list[str], plugin: dict, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=plugin["env"], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, (
        f"{shlex.join(command)}\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
    )
    return done


def test_the_walkthrough_has_the_files_and_commands_it_describes():
    files = doc_files(walkthrough())
    assert {
        "my_marl_game/volunteer.py",
        "my_marl_game/configs/env/volunteer.yaml",
        "pyproject.toml",
        "tests/test_volunteer.py",
    } <= set(files)
    assert [c.split()[0] for c in doc_commands(walkthrough())] == ["python", *SMALLER]


def test_every_command_of_the_walkthrough_sees_the_plugin(plugin, tmp_path):
    for command in doc_commands(walkthrough()):
        args = shlex.split(command)
        done = run([*args, *SMALLER.get(args[0], [])], plugin, tmp_path)
        if args[0] == "python":
            assert done.stdout.strip() == "True"
    metrics = [json.loads(line) for line in (tmp_path / "runs/vol/metrics.jsonl").open()]
    assert len(metrics) == 2 and metrics[-1]["step"] == 2560
    assert "cooperation_rate" in metrics[-1]
    evaluation = json.loads((tmp_path / "runs/vol/eval/eval.json").read_text())
    assert "always_volunteer" in json.dumps(evaluation)
    assert (tmp_path / "volunteer.gif").stat().st_size > 0


def test_the_walkthroughs_contract_tests_pass_on_the_plugin_env(plugin):
    tests = plugin["source"] / "tests" / "test_volunteer.py"
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests)],
        plugin,
        plugin["source"],
    )
    assert f"{len(marl.testing.CHECKS)} passed" in done.stdout


BROKEN = """
import warnings
from importlib.metadata import EntryPoint
from unittest import mock
import marl
import marl.testing
from marl import plugins
broken = EntryPoint("nowhere", "no_such_package.env", plugins.ENVS)
only_broken = lambda group: [broken] if group == plugins.ENVS else []
with mock.patch.object(plugins, "entry_points", only_broken):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        names = marl.list_envs()
print("ipd" in names, [str(w.message) for w in caught])
"""


def test_a_plugin_that_fails_to_load_is_named_and_the_rest_works():
    done = subprocess.run([sys.executable, "-c", BROKEN], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("True [")
    assert "marl plugin 'nowhere' (marl.envs = no_such_package.env) failed to load" in done.stdout
    assert "ModuleNotFoundError" in done.stdout


def test_without_plugins_the_command_line_is_unchanged(monkeypatch):
    from marl.train import command_overrides

    monkeypatch.setattr(plugins, "config_packages", lambda: [])
    assert command_overrides(["env=ipd", "sweep.algo.lr=[1,2]"]) == [
        "env=ipd",
        "++sweep.algo.lr=[1,2]",
    ]
    monkeypatch.setattr(plugins, "config_packages", lambda: ["a.configs", "b.configs"])
    assert command_overrides(["env=x"]) == [
        "env=x",
        "hydra.searchpath=[pkg://a.configs,pkg://b.configs]",
    ]
    # A search path given on the command line keeps its entries, the plugins' come after.
    assert command_overrides(["hydra.searchpath=[file:///mine]"]) == [
        "hydra.searchpath=[file:///mine,pkg://a.configs,pkg://b.configs]"
    ]

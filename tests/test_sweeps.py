"""In-program sweeps: cells equal their runs, bad sweeps fail early, resume, NaN per cell."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from training import TINY_IPD, config, numbers, rows, run

from marl import train as driver
from marl.config import ConfigError
from marl.sweeps import parse

TINY = TINY_IPD
# 2 learning rates x 2 continuation probabilities: 4 cells x 2 seeds in one program.
GRID = ("sweep.algo.lr=[0.003,0.03]", "sweep.env.args.continue_prob=[0.9,1.0]")


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    return run(tmp_path_factory.mktemp("grid"), *TINY, *GRID, name="sweep")


def cell_rows(run_dir, cell: int) -> list[dict]:
    return [
        {k: v for k, v in numbers(r).items() if k not in ("cell", "values")}
        for r in rows(run_dir)
        if r["cell"] == cell
    ]


def assert_rows_close(got: list[dict], expected: list[dict], rtol: float, atol=1e-6) -> None:
    assert [sorted(r) for r in got] == [sorted(r) for r in expected]
    for a, b in zip(got, expected, strict=True):
        for key, value in b.items():
            if isinstance(value, float):
                np.testing.assert_allclose(a[key], value, rtol=rtol, atol=atol, err_msg=key)
            else:
                assert a[key] == value, key


def test_grid_cells_come_in_order_with_the_last_key_fastest():
    sweep = parse({"algo": {"lr": [1, 2]}, "env": {"args": {"d": [5, 6, 7]}}})
    assert sweep.mode == "grid" and len(sweep.cells) == 6
    assert sweep.cells[1] == {"algo.lr": 1, "env.args.d": 6}
    assert sweep.cells[3] == {"algo.lr": 2, "env.args.d": 5}


def test_zip_pairs_the_ith_values():
    sweep = parse({"mode": "zip", "algo.lr": [1, 2], "algo.gamma": [0.9, 0.8]})
    assert sweep.cells == ({"algo.lr": 1, "algo.gamma": 0.9}, {"algo.lr": 2, "algo.gamma": 0.8})


def test_a_cell_of_a_sweep_computes_what_its_own_run_computes(grid_sweep, tmp_path):
    # Cell 2 (lr 0.03, continue_prob 0.9): neither is the config's default (0.003, 1.0).
    alone = run(tmp_path, *TINY, "algo.lr=0.03", "+env.args.continue_prob=0.9")
    # The training is the same; the metrics' sums over more members may round otherwise.
    assert_rows_close(cell_rows(grid_sweep, 2), [numbers(r) for r in rows(alone)], 1e-6)


def test_sweep_rows_and_sweep_json_name_every_cell(grid_sweep):
    table = rows(grid_sweep)
    assert len(table) == 4 * 2  # cells x chunks
    assert table[3]["values"] == {"algo.lr": 0.03, "env.args.continue_prob": 1.0}
    record = json.loads((grid_sweep / "sweep.json").read_text())
    assert record["members"] == 8 and record["num_seeds"] == 2
    assert [c["values"] for c in record["cells"]] == [r["values"] for r in table[:4]]
    summary = json.loads((grid_sweep / "summary.json").read_text())
    assert summary["finished"] and summary["cells"] == 4 and summary["failed_cells"] == []
    assert (grid_sweep / "learning_curves.png").exists()


def test_an_interrupted_sweep_resumes_to_the_same_numbers(grid_sweep, tmp_path):
    part = run(tmp_path, *TINY, *GRID, name="part", stop_after=1)
    assert {r["chunk"] for r in rows(part)} == {0}
    driver.train({"resume": str(part), "progress": False})
    assert [numbers(r) for r in rows(part)] == [numbers(r) for r in rows(grid_sweep)]


# Discounts and coefficients enter as float32 arrays rather than Python floats folded in
# double precision, so they agree to rounding, not to the bit.
SETTINGS = {
    "ppo": (
        TINY,
        {"gamma": 0.9, "gae_lambda": 0.8, "clip_eps": 0.1, "ent_coef": 0.05, "vf_coef": 1.0},
    ),
    "dqn": (
        (
            "env=ipd",
            "algo=dqn",
            "total_steps=512",
            "num_chunks=2",
            "algo.batch_size=16",
            "algo.buffer_size=256",
        ),
        {
            "gamma": 0.9,
            "target_every": 32,
            "explore_start": 0.5,
            "explore_end": 0.1,
            "explore_steps": 100,
            "learning_starts": 24,
        },
    ),
}


@pytest.mark.parametrize("algo", sorted(SETTINGS))
def test_swept_settings_match_their_own_run_to_rounding(tmp_path, algo):
    base, settings = SETTINGS[algo]
    base = (*base, f"algo={algo}")
    other = {k: v * 2 if isinstance(v, int) else v / 2 for k, v in settings.items()}
    sweep = [f"sweep.algo.{k}=[{other[k]},{v}]" for k, v in settings.items()]
    swept = run(tmp_path, *base, "sweep.mode=zip", *sweep, name="sweep")
    alone = run(tmp_path, *base, *[f"algo.{k}={v}" for k, v in settings.items()], name="alone")
    assert_rows_close(cell_rows(swept, 1), [numbers(r) for r in rows(alone)], 1e-2)


def test_a_nan_in_one_cell_is_reported_and_the_others_finish(tmp_path):
    bad = ("sweep.mode=zip", "sweep.algo.lr=[1e30,0.003]", "sweep.algo.max_grad_norm=[1e30,0.5]")
    with pytest.raises(driver.NonFiniteError, match=r"1 of 2 cells: cell 0 \(algo.lr=1e\+30"):
        run(tmp_path, *TINY, *bad)
    table = rows(tmp_path / "run")
    assert [r["cell"] for r in table] == [1, 1]
    assert all(np.isfinite(r["loss/policy"]) for r in table)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["failed_cells"] == [
        {"cell": 0, "chunk": 0, "values": {"algo.lr": 1e30, "algo.max_grad_norm": 1e30}}
    ]


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["sweep.algo.lrr=[0.1]"], r"sweep.algo.lrr cannot be swept in one program"),
        (["sweep.algo.num_envs=[4,8]"], r"sweep.algo.num_envs .*--multirun"),
        (["sweep.algo.network.hidden=[[8],[16]]"], r"--multirun"),
        (["sweep.algo.sharing=[shared,independent]"], r"--multirun"),
        (["sweep.env.name=[ipd,chicken]"], r"--multirun"),
        (["sweep.env.args.horizn=[3]"], r"'horizn' is not a param of ipd"),
        (["sweep.env.transform_args.alpha=[1.0]"], r"not a weight of env.reward_transform=None"),
        (["sweep.algo.lr=[]"], r"sweep.algo.lr is an empty list"),
        (["sweep.algo.lr=0.1"], r"sweep.algo.lr=0.1 is not allowed; expected a list"),
        (["sweep.algo.lr=[0.1,fast]"], r"sweep.algo.lr='fast'.*expected a number"),
        (["sweep.algo.gamma=[0.9,1.5]"], r"sweep.algo.gamma=1.5.*a number in \[0, 1\]"),
        (["sweep.env.args.continue_prob=[0.5,2.0]"], r"sweep.env.args.continue_prob=2.0"),
        (["sweep.mode=zip", "sweep.algo.lr=[0.1,0.2]", "sweep.algo.gamma=[0.9]"], r"one length"),
        (["sweep.mode=line", "sweep.algo.lr=[0.1]"], r"sweep.mode='line' .* grid or zip"),
    ],
)
def test_a_bad_sweep_fails_before_compiling(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        driver.prepare(config(f"run_dir={tmp_path}", *TINY, *overrides))


def test_reward_transform_weights_are_sweepable(tmp_path):
    raw = config(
        f"run_dir={tmp_path}",
        *TINY,
        "env.reward_transform=svo",
        "sweep.env.transform_args.w=[0.0,0.5,1.0]",
    )
    *_, members = driver.prepare(raw)
    assert members.num_cells == 3
    np.testing.assert_array_equal(members.values["env.transform_args.w"][::2], [0.0, 0.5, 1.0])


ODD = ("num_seeds=1", "sweep.algo.lr=[0.003,0.01,0.03]")  # 3 members: 2 devices pad to 4
TWO_DEVICES = """
import shutil
import jax
from marl.train import compose, train
assert len(jax.devices()) == 2, jax.devices()
raw = compose(["wandb.mode=disabled", "progress=false", *{odd!r}, "run_dir={out}/two"])
train(raw, stop_after=1)
shutil.copytree("{out}/two", "{out}/two_then_one")
train({{"resume": "{out}/two", "progress": False}})  # resumed on 2 devices
"""


@pytest.fixture(scope="module")
def odd_sweep(tmp_path_factory):
    """ODD on one device: what the 2-device and 2-process runs must compute."""
    return run(tmp_path_factory.mktemp("odd"), *TINY, *ODD, name="odd")


def assert_like_one_device(run_dir, one_device) -> None:
    # Each device runs a program compiled for half the members, whose sums may round
    # otherwise; at lr 0.03 PPO's updates amplify that to ~0.3% within a chunk (more for
    # values near 0, such as the spread of the policy loss over seeds). A member in the
    # wrong slot would differ by far more (another learning rate).
    assert_rows_close(
        [numbers(r) for r in rows(run_dir)],
        [numbers(r) for r in rows(one_device)],
        rtol=2e-2,
        atol=1e-3,
    )


def test_two_devices_compute_what_one_device_computes(odd_sweep, tmp_path):
    """The members axis sharded over 2 host devices, padded from 3 members to 4: the same
    numbers as on one device, resumed on 2 devices, and a checkpoint saved on 2 devices
    resumes on 1."""
    script = TWO_DEVICES.format(odd=(*TINY, *ODD), out=tmp_path)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "summary.json").read_text())["devices"] == 2
    assert_like_one_device(tmp_path / "two", odd_sweep)
    driver.train({"resume": str(tmp_path / "two_then_one"), "progress": False})
    assert json.loads((tmp_path / "two_then_one" / "summary.json").read_text())["devices"] == 1
    assert_like_one_device(tmp_path / "two_then_one", odd_sweep)


TWO_PROCESSES = """
import sys
from marl.train import compose, train
raw = compose(["wandb.mode=disabled", "progress=false", *{odd!r}, "run_dir={out}"])
raw["distributed"] = {{
    "coordinator_address": "localhost:{port}", "num_processes": 2, "process_id": int(sys.argv[1])
}}
train(raw)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_compute_what_one_process_computes(odd_sweep, tmp_path):
    """jax.distributed with two local CPU processes (one device each, gloo collectives):
    one program over both, process 0 writes the run folder."""
    out = tmp_path / "run"
    script = TWO_PROCESSES.format(odd=(*TINY, *ODD), out=out, port=free_port())
    # Without the suite's persistent compilation cache: with it, and the program not yet
    # in it, the two processes hung (2 of 2 tries with jax 0.10.2; see docs/sweeps.md).
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
            env=env,
        )
        for i in (0, 1)
    ]
    logs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["processes"], summary["devices"]) == (2, 2)
    assert_like_one_device(out, odd_sweep)


def test_the_shipped_exploration_grid_is_one_program_of_240_members(tmp_path):
    raw = config(f"run_dir={tmp_path}", "+experiment=exploration_sweep")
    *_, members = driver.prepare(raw)
    assert (members.num_cells, members.size) == (30, 240)
    taus = members.values["algo.explore_start"][:: members.num_seeds][:10]
    np.testing.assert_allclose(0.75 * taus + 0.025, np.arange(0.12, 0.58, 0.05), atol=1e-3)

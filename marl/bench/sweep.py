"""`marl-bench --sweep`: training throughput of in-program sweeps, cells x seeds.

For each number of cells C (a sweep over `algo.lr`, C values), the driver's own program
(`marl.training.program.Program`: `jit(scan(vmap(update)))` over C x seeds members) is compiled once
and timed: compile seconds, and steady-state env-steps/s summed over members. Each device
count runs in its own process, since XLA fixes the number of host devices
(`--xla_force_host_platform_device_count`) when it starts.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

import numpy as np

SWEEP_ENV = "coin_game"
SWEEP_CELLS = (1, 4, 16, 64)
SWEEP_QUICK_CELLS = (1, 4, 16)
SWEEP_SEEDS = 2
NUM_ENVS, NUM_STEPS = 16, 32  # per member and update
SWEEP_BASE = (
    "algo=ppo",
    f"algo.num_envs={NUM_ENVS}",
    f"algo.num_steps={NUM_STEPS}",
    "num_chunks=1",
)
DEVICES_FLAG = "--xla_force_host_platform_device_count"


def sweep_overrides(env: str, cells: int, seeds: int, updates: int, extra: Sequence[str]):
    """The marl-train overrides of a C-cell sweep (C learning rates) of `updates` updates."""
    rates = ",".join(f"{lr:.6g}" for lr in np.geomspace(1e-4, 1e-2, cells))
    steps = NUM_ENVS * NUM_STEPS * updates  # total_steps of one chunk of `updates` updates
    return (
        f"env={env}",
        *SWEEP_BASE,
        f"num_seeds={seeds}",
        f"total_steps={steps}",
        f"sweep.algo.lr=[{rates}]",
        "wandb.mode=disabled",
        "progress=false",
        *extra,
    )


def bench_sweep_here(
    env: str, cells: Sequence[int], seeds: int, updates: int, repeats: int, extra=()
) -> list[dict]:
    """Rows for each number of cells, on this process's devices."""
    from marl.train import compose, prepare
    from marl.training.program import Program

    rows = []
    for c in cells:
        _, _, _, plan, members = prepare(compose(sweep_overrides(env, c, seeds, updates, extra)))
        program = Program.build(members, plan.updates_per_chunk, seed=0)
        run_s = _median_call(program, repeats)
        steps = plan.steps_per_chunk * members.size
        rows.append(
            {
                "kind": "sweep",
                "env": env,
                "cells": c,
                "seeds": seeds,
                "members": members.size,
                "devices": program.place.num_devices,
                "updates_per_call": plan.updates_per_chunk,
                "compile_s": program.compile_s,
                "s_per_call": run_s,
                "env_steps_per_s": steps / run_s,
            }
        )
    return rows


def _median_call(program, repeats: int) -> float:
    """Median seconds of one chunk after a warm-up call (the chunk donates its input state,
    so each call gets a fresh copy, made outside the timing)."""
    import jax

    times = []
    for i in range(repeats + 1):
        state = jax.tree.map(lambda x: x.copy(), program.state)
        jax.block_until_ready(state)
        start = time.perf_counter()
        jax.block_until_ready(program.run_chunk(state, program.values))
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_sweep(
    env: str = SWEEP_ENV,
    cells: Sequence[int] = SWEEP_CELLS,
    seeds: int = SWEEP_SEEDS,
    updates: int = 2,
    repeats: int = 3,
    devices: Sequence[int] = (1,),
    extra: Sequence[str] = (),
) -> list[dict]:
    """Rows for every (devices, cells), each device count in a child process."""
    rows = []
    for count in devices:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "rows.json")
            args = dict(env=env, cells=list(cells), seeds=seeds, updates=updates)
            args.update(repeats=repeats, extra=list(extra))
            code = (
                "import json, sys; from marl.bench.sweep import bench_sweep_here; "
                f"json.dump(bench_sweep_here(**{args!r}), open({out!r}, 'w'))"
            )
            flags = f"{os.environ.get('XLA_FLAGS', '')} {DEVICES_FLAG}={count}".strip()
            done = subprocess.run(
                [sys.executable, "-c", code], env={**os.environ, "XLA_FLAGS": flags}, text=True
            )
            if done.returncode:
                raise RuntimeError(f"marl-bench --sweep on {count} device(s) failed")
            with open(out) as f:
                rows += json.load(f)
    return rows

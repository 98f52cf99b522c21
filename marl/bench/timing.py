"""The timing helpers every benchmark shares, and the machine they ran on.

Compile time (trace + lower + compile) and run time (median of several calls after a
warm-up) are measured separately: `time_compiled` for one program, `time_interleaved` for
several programs whose timed calls take turns (so that load from other processes weighs on
all of them alike, for ratios).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jaxlib


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work one timed call does, and how many calls are timed."""

    agent_steps_per_call: int  # target for N * T * num_agents; T is chosen from it
    min_steps: int  # T never below this (big N, many agents: spatial_pd at N=4096)
    max_steps: int  # T never above this (N = 1: keep the scan short)
    repeats: int  # timed calls; the median is reported
    warmup: int  # untimed calls after compiling


def steps_per_call(num_envs: int, num_agents: int, sizes: Sizes) -> int:
    """T for N envs of `num_agents` agents: a fixed amount of agent-steps, clamped."""
    steps = sizes.agent_steps_per_call // (num_envs * num_agents)
    return int(min(max(steps, sizes.min_steps), sizes.max_steps))


def time_compiled(fn: Callable, *args, repeats: int = 5, warmup: int = 1) -> tuple[float, float]:
    """Compile `fn` for `args` and time it: returns (compile seconds, median call seconds).

    Compile time is the wall time of `jax.jit(fn).lower(*args).compile()`, so it includes
    tracing. Each call is timed to `block_until_ready` of all its outputs, after `warmup`
    untimed calls.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    start = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    compile_s = time.perf_counter() - start
    for _ in range(warmup):
        jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    return compile_s, statistics.median(times)


def time_interleaved(
    programs: Sequence[tuple[Callable, tuple]], repeats: int = 5, warmup: int = 1
) -> list[tuple[float, float]]:
    """`time_compiled` for several (fn, args) at once, their timed calls taking turns, so
    that a change in the machine's load weighs on all of them alike (for ratios)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    compiled, compile_s = [], []
    for fn, args in programs:
        start = time.perf_counter()
        compiled.append(jax.jit(fn).lower(*args).compile())
        compile_s.append(time.perf_counter() - start)
    for _ in range(warmup):
        for program, (_, args) in zip(compiled, programs, strict=True):
            jax.block_until_ready(program(*args))
    times = [[] for _ in programs]
    for _ in range(repeats):
        for program, (_, args), samples in zip(compiled, programs, times, strict=True):
            start = time.perf_counter()
            jax.block_until_ready(program(*args))
            samples.append(time.perf_counter() - start)
    return [(c, statistics.median(t)) for c, t in zip(compile_s, times, strict=True)]


def machine_info() -> dict:
    device = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        # Other processes share the CPUs; a high load means the rates are understated.
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def package_version(package: str) -> str | None:
    """The installed version of `package`, or None."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def rate_row(kind: str, name: str, num_agents: int, n: int, t: int, timing, repeats: int):
    """A table row of one timed rollout program: N envs x T steps of env `name` per call;
    `timing` is (compile seconds, median call seconds) as `time_compiled` returns."""
    compile_s, run_s = timing
    return {
        "kind": kind,
        "env": name,
        "num_agents": num_agents,
        "num_envs": n,
        "num_steps": t,
        "compile_s": compile_s,
        "call_s": run_s,
        "env_steps_per_s": n * t / run_s,
        "agent_steps_per_s": n * t * num_agents / run_s,
        "repeats": repeats,
    }

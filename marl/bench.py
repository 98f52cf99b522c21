"""Benchmark: compile time and steady-state throughput (console script `marl-bench`).

For each environment and number of parallel environments N, one program is timed:
`jit(scan over T steps of vmap over N envs of env.step)`, with random actions drawn inside
the scan and auto-reset included. Its observations, rewards and done flags are carried or
summed so that XLA cannot drop the work that produces them (`info` is not consumed).

Compile time (trace + lower + compile) and run time (median of several calls after a
warm-up) are measured separately. env-steps/s = N * T / run time; agent-steps/s
multiplies by the env's number of agents (spatial_pd has 900).

Each benchmark kind is one function returning table rows (`bench_env` now; a training
benchmark can sit beside it), and `time_compiled` is the timing helper they share.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import jaxlib

import marl
from marl.rollout import random_actions

FULL_NUM_ENVS = (1, 64, 1024, 4096)
QUICK_NUM_ENVS = (1, 64, 1024)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much work one timed call does, and how many calls are timed."""

    agent_steps_per_call: int  # target for N * T * num_agents; T is chosen from it
    min_steps: int  # T never below this (big N, many agents: spatial_pd at N=4096)
    max_steps: int  # T never above this (N = 1: keep the scan short)
    repeats: int  # timed calls; the median is reported
    warmup: int  # untimed calls after compiling


FULL = Sizes(agent_steps_per_call=2**21, min_steps=4, max_steps=1000, repeats=7, warmup=1)
QUICK = Sizes(agent_steps_per_call=2**16, min_steps=2, max_steps=200, repeats=3, warmup=1)


def steps_per_call(num_envs: int, num_agents: int, sizes: Sizes) -> int:
    """T for N envs of `num_agents` agents: a fixed amount of agent-steps, clamped."""
    steps = sizes.agent_steps_per_call // (num_envs * num_agents)
    return int(min(max(steps, sizes.min_steps), sizes.max_steps))


# ---- the timing helper ----------------------------------------------------------------------
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


# ---- benchmark kind: environment steps --------------------------------------------------------
def random_rollout_fn(env, num_envs: int, num_steps: int) -> Callable:
    """`run(key, obs, state, params)`: T auto-resetting steps of N envs, random actions.

    `obs` and `state` carry the env axis first; `params` is shared by every env and is an
    argument (not a constant baked into the program), as in a parameter sweep.
    """
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    def run(key, obs, state, params):
        def one_step(carry, step_key):
            obs, state, reward_sum, done_count = carry
            key_act, key_env = jax.random.split(step_key)
            act_keys = jax.random.split(key_act, num_envs)
            actions = jax.vmap(lambda k: random_actions(k, env, params))(act_keys)
            obs, state, reward, done, _ = step(
                jax.random.split(key_env, num_envs), state, actions, params
            )
            carry = (obs, state, reward_sum + reward.sum(), done_count + done.sum())
            return carry, None

        zero = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        carry, _ = jax.lax.scan(one_step, (obs, state, *zero), jax.random.split(key, num_steps))
        return carry

    return run


def bench_env(name: str, num_envs: Sequence[int], sizes: Sizes, *, steps=None, seed=0):
    """One row per N: compile time and env-/agent-steps per second of random rollouts."""
    env, params = marl.make(name)
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    rows = []
    for n in num_envs:
        t = steps if steps is not None else steps_per_call(n, env.num_agents, sizes)
        key_reset, key_run = jax.random.split(jax.random.key(seed))
        obs, state = reset(jax.random.split(key_reset, n), params)
        fn = random_rollout_fn(env, n, t)
        compile_s, run_s = time_compiled(
            fn, key_run, obs, state, params, repeats=sizes.repeats, warmup=sizes.warmup
        )
        rows.append(
            {
                "kind": "env",
                "env": name,
                "num_agents": env.num_agents,
                "num_envs": n,
                "num_steps": t,
                "compile_s": compile_s,
                "call_s": run_s,
                "env_steps_per_s": n * t / run_s,
                "agent_steps_per_s": n * t * env.num_agents / run_s,
                "repeats": sizes.repeats,
            }
        )
        del obs, state
    return rows


# ---- reporting ------------------------------------------------------------------------------
COLUMNS = (
    # header, row key, format
    ("env", "env", "{}"),
    ("agents", "num_agents", "{:d}"),
    ("N", "num_envs", "{:d}"),
    ("T", "num_steps", "{:d}"),
    ("compile s", "compile_s", "{:.2f}"),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}"),
    ("agent-steps/s", "agent_steps_per_s", "{:,.0f}"),
)
_WIDTHS = (18, 6, 5, 5, 9, 14, 15)


def table_header() -> str:
    cells = [h.ljust(w) if i == 0 else h.rjust(w) for i, ((h, _, _), w) in enumerate(_zip())]
    line = " | ".join(cells)
    return f"{line}\n{'-' * len(line)}"


def table_row(row: dict) -> str:
    cells = []
    for i, ((_, key, fmt), w) in enumerate(_zip()):
        text = fmt.format(row[key])
        cells.append(text.ljust(w) if i == 0 else text.rjust(w))
    return " | ".join(cells)


def _zip():
    return zip(COLUMNS, _WIDTHS, strict=True)


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


# ---- command line ---------------------------------------------------------------------------
def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    values = _int_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one positive integer, got {text!r}")
    return values[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marl-bench",
        description="Compile time and steady-state env-steps/s of jit(scan(vmap(env.step))) "
        "with random actions, for every registered environment.",
    )
    parser.add_argument(
        "--envs", help="comma-separated env names (default: all registered: see marl.list_envs)"
    )
    parser.add_argument(
        "--num-envs",
        type=_int_list,
        help=f"comma-separated numbers of parallel envs N (default {FULL_NUM_ENVS}, "
        f"--quick {QUICK_NUM_ENVS})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer N, steps and repeats (a minute or two)"
    )
    parser.add_argument(
        "--steps", type=_positive_int, help="scan length T for every N (default: sized per N)"
    )
    parser.add_argument("--repeats", type=_positive_int, help="timed calls per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write rows and machine info here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = dataclasses.replace(sizes, repeats=args.repeats)
    num_envs = args.num_envs or list(QUICK_NUM_ENVS if args.quick else FULL_NUM_ENVS)
    names = [n.strip() for n in args.envs.split(",") if n.strip()] if args.envs else None
    names = list(dict.fromkeys(names)) if names else marl.list_envs()
    # Every name is checked before anything compiles.
    for name in names:
        try:
            marl.make(name)
        except ValueError as err:
            parser.error(str(err))

    info = machine_info()
    print(
        f"marl-bench: jax {info['jax']}, backend {info['backend']} ({info['device_kind']}, "
        f"{info['device_count']} device(s)), {info['cpu_count']} CPUs",
        flush=True,
    )
    print(table_header(), flush=True)
    start = time.perf_counter()
    rows = []
    for name in names:
        for row in bench_env(name, num_envs, sizes, steps=args.steps, seed=args.seed):
            rows.append(row)
            print(table_row(row), flush=True)
    total_s = time.perf_counter() - start
    print(f"total {total_s:.1f} s", flush=True)

    if args.json:
        result = {
            "command": ["marl-bench", *(argv if argv is not None else sys.argv[1:])],
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": info,
            "sizes": dataclasses.asdict(sizes),
            "total_s": total_s,
            "rows": rows,
        }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: compile time and steady-state throughput (console script `marl-bench`).

Two kinds of benchmark, each one function returning table rows:

`bench_env` (the default): for each environment and number of parallel environments N, one
program is timed: `jit(scan over T steps of vmap over N envs of env.step)`, with random
actions drawn inside the scan and auto-reset included. Its observations, rewards and done
flags are carried or summed so that XLA cannot drop the work that produces them (`info` is
not consumed). env-steps/s = N * T / run time; agent-steps/s multiplies by the env's number
of agents (spatial_pd has 900).

`bench_train` (`marl-bench --train`): PPO training throughput, learning included (rollout,
GAE, minibatch updates). The trainer is built the way `marl-train` builds it: the Hydra
config `marl.configs` is composed with `env=NAME algo.num_envs=N num_seeds=1 ...` and
passed to `marl.train.setup`; the timed program is marl-train's chunk, `jit(scan over K
updates of vmap over seeds of trainer.update)`. env-steps/s = K * N * T * seeds / run time,
where T is algo.num_steps.

`bench_peers` (`marl-bench --peers`): our `coin_game` side by side with JaxMARL's
`coin_game` (the optional `bench` extra), timed in the same run with the same program shape
as `bench_env`: for each N, both are compiled and then their timed calls take turns (so
load from other processes weighs on both alike), random actions drawn per env inside the
scan, auto-reset included (JaxMARL's `step` auto-resets). JaxMARL's game is set up to match
ours: the 3 x 3 grid (its only size), [3, 3, 4] observations (`cnn=True`), episodes of our
`episode_length` steps (`num_inner_steps`, with one outer episode). Its rules differ in
details (a red and a blue coin on the board at once; 5 actions, ours 4), not in cost class.

In all of them, compile time (trace + lower + compile) and run time (median of several
calls after a warm-up) are measured separately, by `time_compiled`, the timing helper they
share (`time_interleaved` for the peers: the same, for several programs taking turns).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import resources

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


# Training: the scan runs K updates of N * T env steps each; K is chosen like T above, from a
# target of agent-steps per call (the network runs once per agent-step, so its cost follows
# agent-steps), between min_steps and max_steps updates.
TRAIN_FULL = Sizes(agent_steps_per_call=2**18, min_steps=1, max_steps=16, repeats=5, warmup=1)
TRAIN_QUICK = Sizes(agent_steps_per_call=2**15, min_steps=1, max_steps=4, repeats=3, warmup=1)
TRAIN_ENVS = ("ipd", "spgg", "spatial_pd")
# Batch sizes N (algo.num_envs): smaller for envs with many agents (spatial_pd: 900 per env).
MANY_AGENTS = 100
TRAIN_NUM_ENVS = {"few": (16, 64, 256), "many": (1, 4, 16)}
TRAIN_QUICK_NUM_ENVS = {"few": (16, 256), "many": (1, 4)}


def train_num_envs(num_agents: int, quick: bool) -> tuple[int, ...]:
    """The default batch sizes N of the training benchmark for an env of `num_agents`."""
    table = TRAIN_QUICK_NUM_ENVS if quick else TRAIN_NUM_ENVS
    return table["many" if num_agents >= MANY_AGENTS else "few"]


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


# ---- benchmark kind: our coin_game against JaxMARL's ------------------------------------------
PEER_ENV = "coin_game"
PEER_NAME = "jaxmarl coin_game"
PEERS_INSTALL = "pip install 'marl[bench]' (the `bench` extra; or: pip install jaxmarl)"


class PeersUnavailable(RuntimeError):
    """JaxMARL, the peer of `--peers`, is not installed."""


def import_jaxmarl():
    """The `jaxmarl` package, imported quietly (it prints on import), or PeersUnavailable."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import jaxmarl
    except ImportError as err:
        raise PeersUnavailable(
            f"--peers compares against JaxMARL, which is not installed ({err}); "
            f"install it with {PEERS_INSTALL}"
        ) from None
    return jaxmarl


def jaxmarl_coin_game(episode_length: int):
    """JaxMARL's coin_game set up like ours: one episode of `episode_length` steps, [3, 3, 4]
    observations."""
    jaxmarl = import_jaxmarl()
    return jaxmarl.make("coin_game", num_inner_steps=episode_length, num_outer_steps=1, cnn=True)


def jaxmarl_rollout_fn(env, num_envs: int, num_steps: int) -> Callable:
    """`run(key, obs, state)`: as `random_rollout_fn`, for a JaxMARL env (dicts by agent)."""
    agents = list(env.agents)
    num_actions = env.action_space(agents[0]).n
    step = jax.vmap(env.step)

    def draw(key):  # one uniformly random action per agent, as `random_actions`
        return jax.random.randint(key, (len(agents),), 0, num_actions, dtype=jnp.int32)

    def run(key, obs, state):
        def one_step(carry, step_key):
            obs, state, reward_sum, done_count = carry
            key_act, key_env = jax.random.split(step_key)
            acts = jax.vmap(draw)(jax.random.split(key_act, num_envs))
            actions = {agent: acts[:, i] for i, agent in enumerate(agents)}
            obs, state, reward, done, _ = step(jax.random.split(key_env, num_envs), state, actions)
            reward_sum = reward_sum + sum(reward[agent].sum() for agent in agents)
            carry = (obs, state, reward_sum, done_count + done["__all__"].sum())
            return carry, None

        zero = (jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32))
        carry, _ = jax.lax.scan(one_step, (obs, state, *zero), jax.random.split(key, num_steps))
        return carry

    return run


def bench_peers(num_envs: Sequence[int], sizes: Sizes, *, steps=None, seed=0):
    """Rows for ours and JaxMARL's coin_game at each N (same T, same keys), and one
    comparison per N: ours / theirs in env-steps/s."""
    env, params = marl.make(PEER_ENV)
    peer = jaxmarl_coin_game(int(params.episode_length))
    reset = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))
    peer_reset = jax.jit(jax.vmap(peer.reset))
    rows, ratios = [], []
    for n in num_envs:
        t = steps if steps is not None else steps_per_call(n, env.num_agents, sizes)
        key_reset, key_run = jax.random.split(jax.random.key(seed))
        reset_keys = jax.random.split(key_reset, n)
        programs = (
            (random_rollout_fn(env, n, t), (key_run, *reset(reset_keys, params), params)),
            (jaxmarl_rollout_fn(peer, n, t), (key_run, *peer_reset(reset_keys))),
        )
        timings = time_interleaved(programs, repeats=sizes.repeats, warmup=sizes.warmup)
        pair = []
        for (name, impl), (compile_s, run_s) in zip(
            ((PEER_ENV, "marl"), (PEER_NAME, "jaxmarl")), timings, strict=True
        ):
            row = {
                "kind": "peers",
                "env": name,
                "impl": impl,
                "num_agents": env.num_agents,
                "num_envs": n,
                "num_steps": t,
                "compile_s": compile_s,
                "call_s": run_s,
                "env_steps_per_s": n * t / run_s,
                "agent_steps_per_s": n * t * env.num_agents / run_s,
                "repeats": sizes.repeats,
            }
            rows.append(row)
            pair.append(row)
        ours, theirs = pair
        ratios.append(
            {
                "num_envs": n,
                "speedup": ours["env_steps_per_s"] / theirs["env_steps_per_s"],
                "compile_ratio": ours["compile_s"] / theirs["compile_s"],
            }
        )
    return rows, ratios


def best_rate_ratio(rows: Sequence[dict]) -> float:
    """Ours / JaxMARL's best env-steps/s over N (the issue's "best N" comparison)."""
    best = {
        impl: max(r["env_steps_per_s"] for r in rows if r["impl"] == impl)
        for impl in ("marl", "jaxmarl")
    }
    return best["marl"] / best["jaxmarl"]


# ---- benchmark kind: PPO training ------------------------------------------------------------
# One seed, one chunk, nothing written or logged: only the learner's numbers are timed.
QUIET = ("algo=ppo", "num_seeds=1", "num_chunks=1", "wandb.mode=disabled", "progress=false")


def train_env_names() -> list[str]:
    """Envs the training benchmark can run: those with a Hydra config in configs/env/."""
    folder = resources.files("marl.configs") / "env"
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def compose_config(overrides: Sequence[str]) -> dict:
    """The resolved `marl-train` config for these command-line overrides (as tests do)."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("marl.configs", version_base="1.3"):
        cfg = compose("config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def chunk_fn(trainer, updates: int) -> Callable:
    """marl-train's chunk: `updates` calls of vmap(trainer.update) over seeds in one scan.

    Mirrors `chunk_fn` in `marl.train.train` (metrics and the finiteness check are returned,
    so XLA keeps them); marl-train also donates the state, which repeated timing of one
    input cannot.
    """
    from marl.train import _all_finite

    def run(state):
        step = lambda s, _: jax.vmap(trainer.update)(s)
        state, metrics = jax.lax.scan(step, state, None, length=updates)
        return state, metrics, _all_finite(state)

    return run


def network_summary(trainer) -> str:
    """E.g. 'mlp 64x64 tanh, separate actor and critic, shared (1 bank), local critic'."""
    net = trainer.config.network
    widths = "x".join(str(w) for w in net.hidden)
    if net.torso == "cnn":
        widths = "conv" + "x".join(str(c) for c in net.channels) + " + " + widths
    gru = f" + gru{net.gru}" if net.gru else ""
    banks = f"{trainer.num_banks} bank{'s' if trainer.num_banks > 1 else ''}"
    return (
        f"{net.torso} {widths}{gru} {net.activation}, separate actor and critic, "
        f"{trainer.config.sharing} ({banks}), {trainer.config.critic} critic"
    )


def bench_train(
    name: str,
    num_envs: Sequence[int] | None,
    sizes: Sizes,
    *,
    updates: int | None = None,
    quick: bool = False,
    seed: int = 0,
):
    """One row per N: compile time and env-/agent-steps per second of PPO training.

    The config is the env's Hydra config with algo.num_envs=N, one seed, and total_steps
    set so that the single chunk is K updates. `num_envs` None picks `train_num_envs` for
    the env's number of agents (`quick`: fewer); `updates` None sizes K from `sizes`.
    """
    base = [f"env={name}", *QUIET, f"seed={seed}"]
    _, env, trainer, _ = setup_train(base)
    num_steps, num_agents = trainer.config.num_steps, env.num_agents
    if num_envs is None:
        num_envs = train_num_envs(num_agents, quick)
    rows = []
    for n in num_envs:
        k = updates or steps_per_call(n * num_steps, num_agents, sizes)
        overrides = [*base, f"algo.num_envs={n}", f"total_steps={k * n * num_steps}"]
        cfg, env, trainer, plan = setup_train(overrides)
        assert (plan.steps_per_update, plan.updates_per_chunk) == (n * num_steps, k), plan
        keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.num_seeds)  # as marl-train
        state = jax.jit(jax.vmap(trainer.init))(keys)
        shapes = jax.eval_shape(trainer.init, keys[0]).params
        compile_s, run_s = time_compiled(
            chunk_fn(trainer, k), state, repeats=sizes.repeats, warmup=sizes.warmup
        )
        env_steps = k * plan.steps_per_update * cfg.num_seeds
        rows.append(
            {
                "kind": "train",
                "env": name,
                "algo": cfg.algo["name"],
                "num_agents": num_agents,
                "num_envs": n,
                "num_steps": num_steps,
                "batch": f"{n}x{num_steps}",
                "num_seeds": cfg.num_seeds,
                "updates_per_call": k,
                "steps_per_update": plan.steps_per_update,
                "update_epochs": trainer.config.update_epochs,
                "num_minibatches": trainer.config.num_minibatches,
                "params": sum(int(x.size) for x in jax.tree.leaves(shapes)),
                "network": network_summary(trainer),
                "overrides": overrides,
                "compile_s": compile_s,
                "call_s": run_s,
                "s_per_update": run_s / k,
                "env_steps_per_s": env_steps / run_s,
                "agent_steps_per_s": env_steps * num_agents / run_s,
                "repeats": sizes.repeats,
            }
        )
        del state
    return rows


def setup_train(overrides: Sequence[str]):
    """`marl.train.setup` of the composed config: (cfg, env, trainer, plan)."""
    from marl.train import setup

    return setup(compose_config(overrides))


# ---- reporting ------------------------------------------------------------------------------
COLUMNS = (
    # header, row key, format, width
    ("env", "env", "{}", 18),
    ("agents", "num_agents", "{:d}", 6),
    ("N", "num_envs", "{:d}", 5),
    ("T", "num_steps", "{:d}", 5),
    ("compile s", "compile_s", "{:.2f}", 9),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}", 14),
    ("agent-steps/s", "agent_steps_per_s", "{:,.0f}", 15),
)
TRAIN_COLUMNS = (
    ("env", "env", "{}", 12),
    ("agents", "num_agents", "{:d}", 6),
    ("batch N x T", "batch", "{}", 11),
    ("updates", "updates_per_call", "{:d}", 7),
    ("params", "params", "{:,d}", 7),
    ("compile s", "compile_s", "{:.2f}", 9),
    ("s/update", "s_per_update", "{:.3f}", 8),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}", 12),
    ("agent-steps/s", "agent_steps_per_s", "{:,.0f}", 13),
)


def table_header(columns=COLUMNS) -> str:
    cells = [_cell(header, width, i) for i, (header, _, _, width) in enumerate(columns)]
    line = " | ".join(cells)
    return f"{line}\n{'-' * len(line)}"


def table_row(row: dict, columns=COLUMNS) -> str:
    cells = [
        _cell(fmt.format(row[key]), width, i) for i, (_, key, fmt, width) in enumerate(columns)
    ]
    return " | ".join(cells)


def _cell(text: str, width: int, index: int) -> str:
    return text.ljust(width) if index == 0 else text.rjust(width)


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


def _version(package: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


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
        "with random actions, for every registered environment; with --train, of PPO "
        "training (rollout + GAE + minibatch updates) built from the marl-train configs; "
        "with --peers, of coin_game next to JaxMARL's coin_game.",
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help=f"benchmark PPO training instead (default envs {','.join(TRAIN_ENVS)}; N per "
        f"env: {TRAIN_NUM_ENVS['few']}, or {TRAIN_NUM_ENVS['many']} for envs with "
        f">= {MANY_AGENTS} agents; --quick {TRAIN_QUICK_NUM_ENVS['few']} / "
        f"{TRAIN_QUICK_NUM_ENVS['many']})",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help=f"compare {PEER_ENV} with JaxMARL's {PEER_ENV} in the same run (same N and T, "
        f"random actions, auto-reset); needs {PEERS_INSTALL}",
    )
    parser.add_argument(
        "--envs",
        help="comma-separated env names (default: all registered: see marl.list_envs; "
        "with --train: " + ",".join(TRAIN_ENVS) + ")",
    )
    parser.add_argument(
        "--num-envs",
        type=_int_list,
        help=f"comma-separated numbers of parallel envs N (default {FULL_NUM_ENVS}, "
        f"--quick {QUICK_NUM_ENVS}; with --train: algo.num_envs, default per env)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer N, steps and repeats (a minute or two)"
    )
    parser.add_argument(
        "--steps", type=_positive_int, help="scan length T for every N (default: sized per N)"
    )
    parser.add_argument(
        "--updates",
        type=_positive_int,
        help="with --train: PPO updates per timed call (default: sized per N)",
    )
    parser.add_argument("--repeats", type=_positive_int, help="timed calls per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write rows and machine info here")
    return parser


def _env_names(args, parser) -> list[str]:
    """The envs asked for, checked before anything compiles."""
    names = [n.strip() for n in args.envs.split(",") if n.strip()] if args.envs else None
    if names:
        names = list(dict.fromkeys(names))
    elif args.train:
        names = list(TRAIN_ENVS)
    else:
        names = marl.list_envs()
    if args.train:
        valid = train_env_names()
        unknown = [n for n in names if n not in valid]
        if unknown:
            parser.error(
                f"--train: no env config for {', '.join(map(repr, unknown))}; envs with a "
                f"config in marl/configs/env: {', '.join(valid)}"
            )
        return names
    for name in names:
        try:
            marl.make(name)
        except ValueError as err:
            parser.error(str(err))
    return names


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.train and args.steps is not None:
        parser.error("--steps sets the env benchmark's scan length; with --train use --updates")
    if args.updates is not None and not args.train:
        parser.error("--updates applies to --train only")
    if args.peers and (args.train or args.envs):
        parser.error(f"--peers compares {PEER_ENV} only; it takes no --train or --envs")
    if args.peers:
        try:
            import_jaxmarl()  # before anything compiles
        except PeersUnavailable as err:
            parser.error(str(err))
    if args.train:
        sizes = TRAIN_QUICK if args.quick else TRAIN_FULL
    else:
        sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = dataclasses.replace(sizes, repeats=args.repeats)
    names = [PEER_ENV] if args.peers else _env_names(args, parser)

    info = machine_info()
    print(
        f"marl-bench: jax {info['jax']}, backend {info['backend']} ({info['device_kind']}, "
        f"{info['device_count']} device(s)), {info['cpu_count']} CPUs",
        flush=True,
    )
    start = time.perf_counter()
    rows, train_rows, peer_rows, peer_ratios = [], [], [], []
    if args.peers:
        num_envs = args.num_envs or list(QUICK_NUM_ENVS if args.quick else FULL_NUM_ENVS)
        print(f"{PEER_ENV}: marl vs JaxMARL, random actions, auto-reset included", flush=True)
        print(table_header(), flush=True)
        for n in num_envs:  # one N at a time, so that rows show as they are measured
            n_rows, n_ratios = bench_peers([n], sizes, steps=args.steps, seed=args.seed)
            peer_rows += n_rows
            peer_ratios += n_ratios
            for row in n_rows:
                print(table_row(row), flush=True)
        for ratio in peer_ratios:
            print(
                f"N={ratio['num_envs']}: ours / JaxMARL env-steps/s {ratio['speedup']:.2f}x, "
                f"compile time {ratio['compile_ratio']:.2f}x",
                flush=True,
            )
        print(f"best N each: ours / JaxMARL {best_rate_ratio(peer_rows):.2f}x", flush=True)
    elif args.train:
        print("PPO training (rollout + GAE + minibatch updates), 1 seed", flush=True)
        print(table_header(TRAIN_COLUMNS), flush=True)
        for name in names:
            for row in bench_train(
                name,
                args.num_envs,
                sizes,
                updates=args.updates,
                quick=args.quick,
                seed=args.seed,
            ):
                train_rows.append(row)
                print(table_row(row, TRAIN_COLUMNS), flush=True)
        for network in dict.fromkeys(r["network"] for r in train_rows):
            print(f"network: {network}", flush=True)
    else:
        num_envs = args.num_envs or list(QUICK_NUM_ENVS if args.quick else FULL_NUM_ENVS)
        print(table_header(), flush=True)
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
            "rows": rows,  # env benchmark rows (kind "env"); empty with --train
            "train": train_rows,  # training benchmark rows (kind "train"); empty without
        }
        if args.peers:  # rows of kind "peers" (impl "marl" or "jaxmarl") and their ratios
            result["peers"] = {
                "rows": peer_rows,
                "ratios": peer_ratios,
                "best_n_speedup": best_rate_ratio(peer_rows),
                "jaxmarl": _version("jaxmarl"),
            }
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

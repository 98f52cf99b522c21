"""The training benchmark (`marl-bench --train`): PPO throughput, learning included.

Rollout, GAE and minibatch updates are all timed. The trainer is built the way `marl-train`
builds it: the Hydra config `marl.configs` is composed with `env=NAME algo.num_envs=N
num_seeds=1 ...`, then any `--set KEY=VALUE` overrides, and passed to `marl.train.setup`;
the timed program is marl-train's chunk, `jit(scan over K updates of vmap over seeds of
trainer.update)`. env-steps/s = K * N * T * seeds / run time, where T is algo.num_steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from importlib import resources

import jax

from marl.bench.timing import Sizes, steps_per_call, time_compiled

# The scan runs K updates of N * T env steps each; K is chosen like the env benchmark's T,
# from a target of agent-steps per call (the network runs once per agent-step, so its cost
# follows agent-steps), between min_steps and max_steps updates.
TRAIN_FULL = Sizes(agent_steps_per_call=2**18, min_steps=1, max_steps=16, repeats=5, warmup=1)
TRAIN_QUICK = Sizes(agent_steps_per_call=2**15, min_steps=1, max_steps=4, repeats=3, warmup=1)
TRAIN_ENVS = ("ipd", "spgg", "spatial_pd")
# Batch sizes N (algo.num_envs): smaller for envs with many agents (spatial_pd: 900 per env).
MANY_AGENTS = 100
TRAIN_NUM_ENVS = {"few": (16, 64, 256), "many": (1, 4, 16)}
TRAIN_QUICK_NUM_ENVS = {"few": (16, 256), "many": (1, 4)}

# One seed, one chunk, nothing written or logged: only the learner's numbers are timed.
QUIET = ("algo=ppo", "num_seeds=1", "num_chunks=1", "wandb.mode=disabled", "progress=false")
# Keys the benchmark sets itself, which `--set` may not change (the option to use instead,
# if any): the rows' sizes and the timed program's shape follow from them.
OWN_KEYS = {
    "env": "--envs",
    "algo": None,
    "algo.num_envs": "--num-envs",
    "total_steps": "--updates",
    "seed": "--seed",
    "num_seeds": None,
    "num_chunks": None,
}


class BadOverrides(ValueError):
    """`--set` overrides that change a key the benchmark owns, or do not compose or set up."""


def train_num_envs(num_agents: int, quick: bool) -> tuple[int, ...]:
    """The default batch sizes N of the training benchmark for an env of `num_agents`."""
    table = TRAIN_QUICK_NUM_ENVS if quick else TRAIN_NUM_ENVS
    return table["many" if num_agents >= MANY_AGENTS else "few"]


def train_env_names() -> list[str]:
    """Envs the training benchmark can run: those with a Hydra config in configs/env/."""
    folder = resources.files("marl.configs") / "env"
    return sorted(f.name[: -len(".yaml")] for f in folder.iterdir() if f.name.endswith(".yaml"))


def setup_train(overrides: Sequence[str]):
    """`marl.train.setup` of the composed config: (cfg, env, trainer, plan)."""
    from marl.train import compose, setup

    return setup(compose(overrides))


def override_key(override: str) -> str:
    """The dotted key of a Hydra override: `+algo.lr=1` -> `algo.lr`, `~seed` -> `seed`."""
    return override.split("=", 1)[0].lstrip("+~").split("@", 1)[0].strip()


def train_runs(
    name: str,
    num_envs: Sequence[int] | None,
    sizes: Sizes,
    *,
    updates: int | None = None,
    quick: bool = False,
    seed: int = 0,
    extra: Sequence[str] = (),
) -> list[tuple[list[str], int, int]]:
    """(overrides, N, K) of each row: the env's config with algo.num_envs=N, one seed, and
    total_steps set so that the single chunk is K updates, then the `extra` overrides.

    `num_envs` None picks `train_num_envs` for the env's number of agents (`quick`: fewer);
    `updates` None sizes K from `sizes`.
    """
    own = [f"env={name}", *QUIET, f"seed={seed}"]
    _, env, trainer, _ = setup_train([*own, *extra])
    num_steps, num_agents = trainer.config.num_steps, env.num_agents
    if num_envs is None:
        num_envs = train_num_envs(num_agents, quick)
    runs = []
    for n in num_envs:
        k = updates or steps_per_call(n * num_steps, num_agents, sizes)
        overrides = [*own, f"algo.num_envs={n}", f"total_steps={k * n * num_steps}", *extra]
        runs.append((overrides, n, k))
    return runs


def check_overrides(name: str, *args, extra: Sequence[str] = (), **kwargs) -> None:
    """Compose and set up every row's config of `name` (arguments as `train_runs`), so that
    a bad `extra` override fails before anything compiles: raises BadOverrides."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    for override in extra:
        key = override_key(override)
        if key in OWN_KEYS:
            instead = f"; use {OWN_KEYS[key]}" if OWN_KEYS[key] else ""
            raise BadOverrides(f"--set {override}: the benchmark sets {key} itself{instead}")
    try:
        for overrides, _, _ in train_runs(name, *args, extra=extra, **kwargs):
            setup_train(overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as err:
        raise BadOverrides(f"--set for env {name}: {err}") from None


def chunk_fn(trainer, updates: int) -> Callable:
    """marl-train's chunk: `updates` calls of vmap(trainer.update) over seeds in one scan.

    Mirrors `chunk_fn` in `marl.training.program.Program.build` (metrics and the finiteness
    flags are returned, so XLA keeps them); marl-train also donates the state, which
    repeated timing of one input cannot.
    """
    from marl.training.program import finite_leaves

    def run(state):
        step = lambda s, _: jax.vmap(trainer.update)(s)
        state, metrics = jax.lax.scan(step, state, None, length=updates)
        return state, metrics, jax.vmap(finite_leaves)(state)

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
    extra: Sequence[str] = (),
):
    """One row per N: compile time and env-/agent-steps per second of PPO training.

    The configs are those of `train_runs` (same arguments); `extra` are Hydra overrides
    applied after the benchmark's own.
    """
    runs = train_runs(name, num_envs, sizes, updates=updates, quick=quick, seed=seed, extra=extra)
    rows = []
    for overrides, n, k in runs:
        cfg, env, trainer, plan = setup_train(overrides)
        num_steps, num_agents = trainer.config.num_steps, env.num_agents
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

"""The one training driver: seeds, chunks, logging, checkpoints, resume, plots.

`train(config)` runs any registered algorithm on any registered environment:
`trainer.init` is vmapped over `num_seeds` seeds, and each chunk runs
`updates_per_chunk` calls of `trainer.update` in one `lax.scan` inside one `jax.jit`.
Between chunks the driver appends a line to `metrics.jsonl`, logs to wandb, advances the
progress bar and saves a checkpoint, so a killed run loses at most the chunk in flight.

`marl-train` is the same thing as a Hydra app (configs in `configs/`).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import yaml

import marl
from marl import algos
from marl.checkpoint import Checkpointer, CheckpointMismatch
from marl.config import ConfigError, RunConfig, build, to_dict
from marl.metrics import finish_episode_means
from marl.plots import plot_run
from marl.wrappers import EpisodeStats, reward_transform

# Keys a resumed run may change: they do not affect the numbers.
RESUME_MAY_CHANGE = {"resume", "run_dir", "progress", "wandb"}
# Metrics summed over updates (episode sums and counts) rather than averaged.
SUMMED_PREFIXES = ("episode/", "learners/", "episodes")


class NonFiniteError(RuntimeError):
    """NaN or inf appeared in the learner's state or losses."""


@dataclass(frozen=True)
class Plan:
    """Derived sizes of a run, computed once from the config and the trainer."""

    steps_per_update: int
    updates_per_chunk: int
    num_chunks: int

    @property
    def steps_per_chunk(self) -> int:
        return self.steps_per_update * self.updates_per_chunk


def build_env(cfg: RunConfig):
    """The environment as the algorithm sees it: made, reward-transformed, with stats."""
    final_obs = bool(cfg.algo.get("bootstrap_truncated", False))
    args = dict(cfg.env.args)
    if cfg.env.preset is not None:
        args["preset"] = cfg.env.preset
    env, params = marl.make(cfg.env.name, final_obs=final_obs, **args)
    if cfg.env.reward_transform is not None:
        env = reward_transform(env, cfg.env.reward_transform, **cfg.env.transform_args)
        params = env.wrap_params(params)
    elif cfg.env.transform_args:
        raise ConfigError("config: env.transform_args given without env.reward_transform")
    return EpisodeStats(env), params


def plan(cfg: RunConfig, trainer) -> Plan:
    per_update = trainer.steps_per_update
    updates = cfg.total_steps // per_update
    if updates < cfg.num_chunks:
        raise ConfigError(
            f"config: total_steps={cfg.total_steps} gives {updates} updates of {per_update} "
            f"env steps; need at least num_chunks={cfg.num_chunks} (raise total_steps or "
            f"lower num_chunks)"
        )
    return Plan(per_update, updates // cfg.num_chunks, cfg.num_chunks)


def compose(overrides=()) -> dict:
    """The resolved `marl-train` config for these command-line overrides, as a plain dict
    (what `train` and `setup` take): for scripts, tests and benchmarks."""
    from hydra import compose as compose_hydra
    from hydra import initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("marl.configs", version_base="1.3"):
        cfg = compose_hydra("config", overrides=list(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def setup(raw: dict):
    """Check the config and build env and trainer; everything that can fail before compile."""
    cfg = build(RunConfig, raw)
    env, params = build_env(cfg)
    scripted = {int(k): v for k, v in cfg.scripted.items()}
    trainer = algos.make(cfg.algo, env, params, scripted, cfg.total_steps)
    return cfg, env, trainer, plan(cfg, trainer)


def _aggregate(metrics: dict) -> dict:
    """Chunk metrics [updates, seeds] -> per-seed values [seeds]."""
    summed = {k: v.sum(0) for k, v in metrics.items() if k.startswith(SUMMED_PREFIXES)}
    # A metric can be undefined in some updates (NaN: e.g. no env had a pool co-player):
    # average over the updates where it is defined.
    per_seed = {
        k: jnp.nanmean(v, 0) for k, v in metrics.items() if not k.startswith(SUMMED_PREFIXES)
    }
    if summed:
        per_seed.update(finish_episode_means(summed))
    return per_seed


def _row(per_seed: dict, chunk: int, step: int) -> dict:
    """One metrics.jsonl line: the mean over seeds and its `_std` twin for each metric."""
    row = {"chunk": chunk, "step": step}
    for key in sorted(per_seed):
        values = np.asarray(per_seed[key], np.float64)
        name = "episode_return_mean" if key == "episode_return" else key
        finite = values[np.isfinite(values)]
        row[name] = float(finite.mean()) if finite.size else None
        row[f"{name}_std"] = float(finite.std()) if finite.size else None
    return row


def _all_finite(state) -> jax.Array:
    leaves = [x for x in jax.tree.leaves(state) if jnp.issubdtype(x.dtype, jnp.floating)]
    return jnp.all(jnp.stack([jnp.isfinite(x).all() for x in leaves]))


class _Logger:
    """metrics.jsonl, wandb and the progress bar."""

    def __init__(self, cfg: RunConfig, run_dir: Path, total_steps: int, start_step: int):
        self.path = run_dir / "metrics.jsonl"
        self.wandb = None
        if cfg.wandb.mode != "disabled":
            import wandb  # imported only when used: it is slow to import

            self.wandb = wandb.init(
                project=cfg.wandb.project,
                entity=cfg.wandb.entity,
                mode=cfg.wandb.mode,
                dir=str(run_dir),
                config=to_dict(cfg),
                name=run_dir.name,
            )
        self.bar = None
        if cfg.progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_steps, initial=start_step, unit="step", unit_scale=True, leave=True
            )

    def log(self, row: dict, steps_done: int, rate: float) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in row.items() if v is not None}, step=row["step"])
        if self.bar is not None:
            self.bar.update(steps_done)
            ret = row.get("episode_return_mean")
            post = {"steps/s": f"{rate:,.0f}"}
            if ret is not None:
                post["return"] = f"{ret:.3g}"
            self.bar.set_postfix(post)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.wandb is not None:
            self.wandb.finish()


def _read_rows(path: Path, before_chunk: int) -> list[dict]:
    """Metrics lines of the chunks that a checkpoint covers (drops a chunk in flight)."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["chunk"] < before_chunk]


def _lookup(tree: dict, dotted: str):
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def resume_config(run_dir: str | Path, given: dict | None = None) -> dict:
    """The stored config of `run_dir`, checked against the keys given again now.

    `given` maps dotted keys ("algo.lr", or a whole group such as "env") to the values
    asked for now; any that differ from the stored run fail, except RESUME_MAY_CHANGE.
    """
    run_dir = Path(run_dir)
    stored_path = run_dir / "config.yaml"
    if not stored_path.exists():
        raise ConfigError(f"resume: {run_dir} has no config.yaml; is it a marl-train run dir?")
    stored = yaml.safe_load(stored_path.read_text())
    for key, value in (given or {}).items():
        if key.split(".")[0] in RESUME_MAY_CHANGE:
            _set(stored, key, value)
            continue
        try:
            before = _lookup(stored, key)
        except KeyError:
            raise ConfigError(f"resume: {key} is not a key of the stored config") from None
        if _normalise(before) != _normalise(value):
            raise CheckpointMismatch(
                f"resume: the checkpoint in {run_dir} was made with {key}={before!r}, but "
                f"this run asks for {key}={value!r}; resume with the stored config or start "
                f"a new run_dir"
            )
    stored["resume"] = str(run_dir)
    stored["run_dir"] = str(run_dir)
    return stored


def _set(tree: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def _comparable(config: dict) -> dict:
    """The part of a config that decides the numbers."""
    return {k: _normalise(v) for k, v in config.items() if k not in RESUME_MAY_CHANGE}


def _normalise(value):
    """Compare configs from YAML and from Hydra alike (tuples vs lists, int vs str keys)."""
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


def train(raw: dict, stop_after: int | None = None) -> Path:
    """Run (or resume) training; returns the run dir. `stop_after` ends after that many
    chunks in this call, as an interruption would (tests use it)."""
    if raw.get("resume"):
        given = {k: v for k, v in raw.items() if k != "resume"}
        raw = resume_config(raw["resume"], given)
    cfg, env, trainer, sizes = setup(raw)
    run_dir = Path(cfg.run_dir or f"runs/{time.strftime('%Y-%m-%d_%H-%M-%S')}")
    run_dir.mkdir(parents=True, exist_ok=True)
    stored = to_dict(cfg)
    checkpoints = Checkpointer(run_dir / "checkpoints", keep=cfg.checkpoint_keep)

    keys = jax.random.split(jax.random.PRNGKey(cfg.seed), cfg.num_seeds)
    init = jax.jit(jax.vmap(trainer.init))
    state = init(keys)
    start = 0
    if cfg.resume:
        if checkpoints.latest() is None:
            raise CheckpointMismatch(f"resume: no checkpoint in {run_dir / 'checkpoints'}")
        state, meta = checkpoints.restore(state)
        if _comparable(meta["config"]) != _comparable(stored):
            raise CheckpointMismatch(
                f"resume: the checkpoint in {run_dir} was made with a different config"
            )
        start = meta["chunk"] + 1
    elif checkpoints.latest() is not None:
        raise ConfigError(
            f"config: run_dir={str(run_dir)!r} already holds a run; resume it with "
            f"resume={run_dir} or choose another run_dir"
        )
    rows = _read_rows(run_dir / "metrics.jsonl", start)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "config.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))

    def chunk_fn(state):
        step = lambda s, _: jax.vmap(trainer.update)(s)
        state, metrics = jax.lax.scan(step, state, None, length=sizes.updates_per_chunk)
        return state, metrics, _all_finite(state)

    t0 = time.perf_counter()
    run_chunk = jax.jit(chunk_fn, donate_argnums=0).lower(state).compile()
    compile_s = time.perf_counter() - t0

    total_steps = sizes.steps_per_chunk * sizes.num_chunks
    logger = _Logger(cfg, run_dir, total_steps, start * sizes.steps_per_chunk)
    interrupted = False
    train_s = 0.0
    end = sizes.num_chunks if stop_after is None else min(sizes.num_chunks, start + stop_after)
    try:
        for chunk in range(start, end):
            tick = time.perf_counter()
            state, metrics, finite = run_chunk(state)
            metrics = jax.device_get(metrics)
            seconds = time.perf_counter() - tick
            train_s += seconds
            per_seed = _aggregate(metrics)
            losses = [v for k, v in per_seed.items() if k.startswith("loss/")]
            if not bool(finite) or not all(np.isfinite(v).all() for v in losses):
                first, last = chunk * sizes.steps_per_chunk, (chunk + 1) * sizes.steps_per_chunk
                good = f"chunk {chunk - 1}" if chunk else "none yet"
                raise NonFiniteError(
                    f"non-finite values (NaN/inf) in chunk {chunk} (env steps {first}-{last}); "
                    f"stopped. Last good checkpoint: {good} in {run_dir}; try a lower "
                    f"learning rate or stronger gradient clipping"
                )
            step = (chunk + 1) * sizes.steps_per_chunk
            row = _row(per_seed, chunk, step)
            rate = sizes.steps_per_chunk * cfg.num_seeds / seconds
            row["steps_per_s"] = rate
            rows.append(row)
            logger.log(row, sizes.steps_per_chunk, rate)
            checkpoints.save(chunk, state, {"chunk": chunk, "step": step, "config": stored})
    except KeyboardInterrupt:
        interrupted = True
        print(
            f"\ninterrupted: completed chunks are checkpointed in {run_dir}; continue with "
            f"marl-train resume={run_dir}",
            file=sys.stderr,
        )
    finally:
        logger.close()
        checkpoints.close()

    plots = plot_run(rows, run_dir)
    summary = {
        "run_dir": str(run_dir),
        "env": cfg.env.name,
        "algo": cfg.algo.get("name"),
        "num_seeds": cfg.num_seeds,
        "chunks_done": len(rows),
        "num_chunks": sizes.num_chunks,
        "finished": len(rows) == sizes.num_chunks,
        "interrupted": interrupted,
        "env_steps_per_seed": rows[-1]["step"] if rows else 0,
        "compile_s": compile_s,
        "train_s_this_call": train_s,
        "steps_per_s": (len(rows) - start)
        * sizes.steps_per_chunk
        * cfg.num_seeds
        / max(train_s, 1e-9),
        "final": rows[-1] if rows else {},
        "plots": [p.name for p in plots],
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    if interrupted:
        raise KeyboardInterrupt
    return run_dir


def _hydra_main(cfg) -> None:
    import logging

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    # Hydra sets the root logger to INFO; JAX's backend probing is noise at that level.
    logging.getLogger("jax").setLevel(logging.WARNING)

    raw = OmegaConf.to_container(cfg, resolve=True)
    hydra_cfg = HydraConfig.get()
    if raw.get("resume"):
        # Only what was typed on the command line is checked against the stored run.
        given = {}
        for override in hydra_cfg.overrides.task:
            key = override.split("=", 1)[0].lstrip("+~")
            if key != "resume":
                try:
                    given[key] = _lookup(raw, key)
                except KeyError:
                    given[key] = override.split("=", 1)[1]
        raw = {"resume": raw["resume"], **given}
    elif raw.get("run_dir") is None:
        raw["run_dir"] = hydra_cfg.runtime.output_dir
    try:
        train(raw)
    except (ConfigError, CheckpointMismatch, NonFiniteError, ValueError) as err:
        print(f"marl-train: error: {err}", file=sys.stderr)
        sys.exit(2 if not isinstance(err, NonFiniteError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)


def _first_set(*values):
    """Hydra resolver: the first value that is set (run_dir, then resume, then a default)."""
    return next(v for v in values if v not in (None, "None", "null", ""))


def main() -> None:
    import hydra
    from omegaconf import OmegaConf

    OmegaConf.register_new_resolver("first_set", _first_set, replace=True)

    app = hydra.main(config_path="pkg://marl.configs", config_name="config", version_base="1.3")
    app(_hydra_main)()

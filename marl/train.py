"""The one training driver: seeds, chunks, logging, checkpoints, resume, plots.

`train(config)` runs any registered algorithm on any registered environment:
`trainer.init` is vmapped over `num_seeds` seeds, and each chunk runs
`updates_per_chunk` calls of `trainer.update` in one `lax.scan` inside one `jax.jit`.
Between chunks the driver appends a line to `metrics.jsonl`, logs to wandb, advances the
progress bar and saves a checkpoint, so a killed run loses at most the chunk in flight.

With `sweep:` (marl.sweeps), the same program trains every cell of a grid of numeric
settings x every seed: the members axis is vmapped, and sharded over all devices (and
hosts, with `distributed:`). Rows of `metrics.jsonl` then carry `cell` and the cell's
`values`; `sweep.json` lists the cells. A cell whose state turns non-finite is reported
with its values and stops being logged; the others run to the end.

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
from marl.config import ConfigError, RunConfig, build, to_dict
from marl.metrics import finish_episode_means
from marl.plots import plot_run, plot_sweep
from marl.sweeps import Layout, Members, build_members, fetch, layout, start_distributed
from marl.sweeps.devices import is_writer
from marl.training.checkpoint import CheckpointDamaged, Checkpointer, CheckpointMismatch
from marl.training.folder import RunLock, read_rows, refuse_existing_run, sigterm_as_interrupt
from marl.wrappers import EpisodeStats, reward_transform

# Keys a resumed run may change: they do not affect the numbers.
RESUME_MAY_CHANGE = {"resume", "run_dir", "progress", "wandb", "distributed", "break_lock"}
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
    """Chunks of whole updates. A run does exactly `total_steps` env steps per seed: a
    count that is not a whole number of chunks is refused (rounding it silently would run
    fewer steps than asked, with schedules sized for the steps asked)."""
    per_update = trainer.steps_per_update
    per_chunk = per_update * cfg.num_chunks  # the least total: one update per chunk
    updates = cfg.total_steps // per_update
    if updates < cfg.num_chunks:
        raise ConfigError(
            f"config: total_steps={cfg.total_steps} gives {updates} updates of {per_update} "
            f"env steps; need at least num_chunks={cfg.num_chunks} (raise total_steps to "
            f"{per_chunk} or lower num_chunks)"
        )
    if cfg.total_steps % per_chunk:
        below = cfg.total_steps // per_chunk * per_chunk
        raise ConfigError(
            f"config: total_steps={cfg.total_steps} is not a whole number of chunks: "
            f"num_chunks={cfg.num_chunks} chunks of updates of {per_update} env steps "
            f"(per seed) need a multiple of {per_chunk}; use total_steps={below} or "
            f"{below + per_chunk}, or another num_chunks"
        )
    return Plan(per_update, updates // cfg.num_chunks, cfg.num_chunks)


def compose(overrides=()) -> dict:
    """The resolved `marl-train` config for these command-line overrides, as a plain dict
    (what `train` and `setup` take): for scripts, tests and benchmarks."""
    from hydra import compose as compose_hydra
    from hydra import initialize_config_module
    from omegaconf import OmegaConf

    with initialize_config_module("marl.configs", version_base="1.3"):
        cfg = compose_hydra("config", overrides=sweep_overrides(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def sweep_overrides(overrides) -> list[str]:
    """`sweep.<key>=[...]` adds a key to the empty `sweep:` node, which Hydra only allows
    as `++sweep.<key>`; the short form is what users type (and what the docs show)."""
    return [f"++{o}" if o.startswith("sweep.") else o for o in overrides]


def setup(raw: dict):
    """Check the config and build env and trainer; everything that can fail before compile."""
    cfg = build(RunConfig, raw)
    env, params = build_env(cfg)
    scripted = {int(k): v for k, v in cfg.scripted.items()}
    trainer = algos.make(cfg.algo, env, params, scripted, cfg.total_steps)
    return cfg, env, trainer, plan(cfg, trainer)


def prepare(raw: dict) -> tuple:
    """`setup` for a run with or without `sweep:`: (cfg, env, trainer, plan, members),
    every value of every swept key checked before anything compiles."""
    cfg = build(RunConfig, raw)
    _, env, trainer, sizes, members = build_members(raw, cfg.num_seeds, setup)
    return cfg, env, trainer, sizes, members


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


def _row_name(key: str) -> str:
    """A metric's name in metrics.jsonl (the per-episode return is a mean over agents)."""
    return "episode_return_mean" if key == "episode_return" else key


def _row(per_seed: dict, chunk: int, step: int) -> dict:
    """One metrics.jsonl line: the mean over seeds and its `_std` twin for each metric."""
    row = {"chunk": chunk, "step": step}
    for key in sorted(per_seed):
        values = np.asarray(per_seed[key], np.float64)
        name = _row_name(key)
        finite = values[np.isfinite(values)]
        row[name] = float(finite.mean()) if finite.size else None
        row[f"{name}_std"] = float(finite.std()) if finite.size else None
    return row


def _cell_rows(members: Members, per_member: dict, chunk: int, step: int, skip) -> list[dict]:
    """One metrics row per cell (its seeds' mean and `_std`), tagged with the cell's values;
    cells in `skip` (failed earlier) get none."""
    rows = []
    for cell in range(members.num_cells):
        if cell in skip:
            continue
        seeds = slice(cell * members.num_seeds, (cell + 1) * members.num_seeds)
        row = _row({k: v[seeds] for k, v in per_member.items()}, chunk, step)
        if members.sweep is not None:
            row = {"cell": cell, "values": members.sweep.cells[cell], **row}
        rows.append(row)
    return rows


def _culprits(metrics: dict, finite_leaves, leaf_names: list[str], size: int) -> dict[int, str]:
    """member -> the first non-finite quantity of its chunk: the rewards (the env's
    doing), else a loss, else the learner state by leaf path; members with none are absent.
    Rewards and losses are checked update by update: a NaN in one update is not averaged
    away."""
    found: dict[int, str] = {}
    for prefix in ("reward", "loss/"):
        for key in sorted(k for k in metrics if k.startswith(prefix)):
            values = np.asarray(metrics[key])
            ok = np.isfinite(values).reshape(*values.shape[:2], -1).all(axis=(0, 2))
            for member in np.flatnonzero(~ok[:size]):
                found.setdefault(int(member), key)
    leaves = np.asarray(finite_leaves, bool)[:size]
    for member in np.flatnonzero(~leaves.all(-1)):
        found.setdefault(
            int(member), f"the learner state at {leaf_names[np.argmin(leaves[member])]}"
        )
    return found


def _hint(culprit: str) -> str:
    if culprit.startswith("reward"):
        return f"first non-finite: {culprit}, from the environment; check its params"
    return f"first non-finite: {culprit}; try a lower learning rate or stronger gradient clipping"


@dataclass(frozen=True)
class Program:
    """The compiled program of a run: every member's fresh state on its devices, the
    members' swept values, and `run_chunk(state, values) -> state, metrics, finite` (one
    chunk of `jit(scan(vmap(update)))`; metrics [updates, slots], finite [slots, leaves]:
    one flag per floating leaf of the state, named by `leaf_names`)."""

    place: Layout
    state: object
    values: dict
    run_chunk: object
    compile_s: float

    @property
    def leaf_names(self) -> list[str]:
        paths = jax.tree_util.tree_flatten_with_path(self.state)[0]
        return [jax.tree_util.keystr(p) for p, x in paths if _is_float(x)]

    @staticmethod
    def build(
        members: Members, updates_per_chunk: int, seed: int, compiler_options=None
    ) -> Program:
        """`compiler_options`: XLA options for the chunk's compile (e.g. CPU fusion choices);
        an option the backend does not know fails as a ConfigError naming it."""
        place = layout(members.size)
        values = jax.tree.map(lambda x: x[place.index], members.values)
        keys = members.keys(seed)[place.index]
        if place.members is None or jax.default_backend() != "cpu":
            state = jax.jit(jax.vmap(members.init))(keys, values)
        else:
            # With several host devices, jaxlib 0.10's batched LAPACK kernels (QR, for
            # orthogonal initial weights) can deadlock XLA's CPU thread pool: each kernel
            # blocks a pool thread waiting for batch tasks queued behind it. So members
            # are initialised one after another on one device (the same values), then
            # sharded. (128 members on 2 host devices hung 3 times in 3 with a vmap.)
            init_one = lambda kv: members.init(*kv)  # noqa: E731
            state = jax.jit(lambda k, v: jax.lax.map(init_one, (k, v)))(keys, values)
        state, values = place.put(state), place.put(values)

        def chunk_fn(state, values):
            step = lambda s, _: jax.vmap(members.update)(s, values)
            state, metrics = jax.lax.scan(step, state, None, length=updates_per_chunk)
            return state, metrics, jax.vmap(_finite_leaves)(state)

        shardings = None
        if place.members is not None:
            shardings = (place.members, place.metrics, place.members)
        t0 = time.perf_counter()
        lowered = jax.jit(chunk_fn, donate_argnums=0, out_shardings=shardings).lower(state, values)
        try:
            run_chunk = lowered.compile(compiler_options=dict(compiler_options or {}) or None)
        except Exception as err:  # XLA's error type for an unknown option is not public
            if not compiler_options:
                raise
            raise ConfigError(
                f"config: compiler_options={dict(compiler_options)!r} were refused by the "
                f"{jax.default_backend()} compiler: {str(err).splitlines()[0]}"
            ) from err
        return Program(place, state, values, run_chunk, time.perf_counter() - t0)

    def place_members(self, tree):
        """Per-member arrays [members, ...] -> the program's slots, on their devices."""
        return self.place.put(jax.tree.map(lambda x: x[self.place.index], tree))


def _is_float(x) -> bool:
    return jnp.issubdtype(x.dtype, jnp.floating)


def _finite_leaves(state) -> jax.Array:
    """One flag per floating leaf of `state`: are all its values finite?"""
    return jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(state) if _is_float(x)])


class _Logger:
    """metrics.jsonl, wandb and the progress bar."""

    def __init__(
        self, cfg: RunConfig, run_dir: Path, total_steps: int, start_step: int, writer: bool
    ):
        self.path = run_dir / "metrics.jsonl" if writer else None
        self.wandb = None
        if writer and cfg.wandb.mode != "disabled":
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
        if writer and cfg.progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_steps, initial=start_step, unit="step", unit_scale=True, leave=True
            )

    def log(self, rows: list[dict], steps_done: int, rate: float) -> None:
        """A chunk's rows: one for a run, one per cell of a sweep (wandb: `cell<i>/` keys)."""
        if self.path is None:
            return
        with self.path.open("a") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)
        if self.wandb is not None:
            for row in rows:
                prefix = f"cell{row['cell']}/" if "cell" in row else ""
                numbers = {
                    f"{prefix}{k}": v
                    for k, v in row.items()
                    if v is not None and k not in ("cell", "values")
                }
                self.wandb.log(numbers, step=rows[0]["step"])
        if self.bar is not None:
            self.bar.update(steps_done)
            returns = [r.get("episode_return_mean") for r in rows]
            returns = [r for r in returns if r is not None]
            post = {"steps/s": f"{rate:,.0f}"}
            if returns:
                post["return"] = f"{np.mean(returns):.3g}"  # over the cells of a sweep
            self.bar.set_postfix(post)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.wandb is not None:
            self.wandb.finish()


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
    chunks in this call, as an interruption would (tests use it).

    Nothing is written before the whole config is accepted. Then the run folder is locked
    for the whole run, and a new run refuses a folder that already holds one
    (marl.training.folder)."""
    if raw.get("resume"):
        given = {k: v for k, v in raw.items() if k != "resume"}
        raw = resume_config(Path(str(raw["resume"])).expanduser(), given)
    start_distributed(raw.get("distributed"))
    cfg, _, _, sizes, members = prepare(raw)
    run_dir = Path(cfg.run_dir or f"runs/{time.strftime('%Y-%m-%d_%H-%M-%S')}").expanduser()
    lock = RunLock(run_dir) if is_writer() else None
    if lock is not None:
        if not cfg.resume:
            refuse_existing_run(run_dir)
        lock.acquire(cfg.break_lock)
    try:
        with sigterm_as_interrupt():
            _run(cfg, members, sizes, run_dir, lock is not None, stop_after)
    finally:
        if lock is not None:
            lock.release()
    return run_dir


def _run(cfg: RunConfig, members: Members, sizes: Plan, run_dir: Path, writer: bool, stop_after):
    stored = to_dict(cfg)
    checkpoints = Checkpointer(run_dir / "checkpoints", keep=cfg.checkpoint_keep)
    if cfg.resume and _finished(checkpoints, sizes.num_chunks):
        checkpoints.close()
        print(
            f"marl-train: {run_dir} is finished (all {sizes.num_chunks} chunks are "
            f"checkpointed); nothing to do",
            file=sys.stderr,
        )
        return

    program = Program.build(members, sizes.updates_per_chunk, cfg.seed, cfg.compiler_options)
    place, state, values = program.place, program.state, program.values
    # Checkpoints hold the members only, not the padding: a run resumes on any device count.
    real = lambda tree: jax.tree.map(lambda x: x[: members.size], tree)  # noqa: E731
    padded = place.padded != members.size
    start, failed = 0, {}
    if cfg.resume:
        if checkpoints.latest() is None:
            raise CheckpointMismatch(f"resume: no checkpoint in {run_dir / 'checkpoints'}")
        restored, meta = checkpoints.restore_intact(real(state) if padded else state)
        if _comparable(meta["config"]) != _comparable(stored):
            raise CheckpointMismatch(
                f"resume: the checkpoint in {run_dir} was made with a different config"
            )
        # Restored onto one device: back into the program's slots and shardings.
        state = restored if place.members is None else program.place_members(restored)
        start = meta["chunk"] + 1
        failed = {int(k): v for k, v in meta.get("failed_cells", {}).items()}
    rows = read_rows(run_dir / "metrics.jsonl", start)
    if writer:
        (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (run_dir / "config.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
        if members.sweep is not None:
            _write_sweep_json(run_dir, members, place)
    run_chunk, compile_s, leaf_names = program.run_chunk, program.compile_s, program.leaf_names

    total_steps = sizes.steps_per_chunk * sizes.num_chunks
    logger = _Logger(cfg, run_dir, total_steps, start * sizes.steps_per_chunk, writer)
    interrupted = False
    train_s = 0.0
    saved = start - 1  # the newest checkpointed chunk
    end = sizes.num_chunks if stop_after is None else min(sizes.num_chunks, start + stop_after)
    try:
        for chunk in range(start, end):
            tick = time.perf_counter()
            state, metrics, finite = run_chunk(state, values)
            metrics, finite = fetch((metrics, finite))
            seconds = time.perf_counter() - tick
            train_s += seconds
            per_member = _aggregate(metrics)
            first, last = chunk * sizes.steps_per_chunk, (chunk + 1) * sizes.steps_per_chunk
            culprits = _culprits(metrics, finite, leaf_names, members.size)
            for member, culprit in sorted(culprits.items()):
                cell = member // members.num_seeds
                if cell not in failed:
                    failed[cell] = chunk
                    _report_nonfinite(members, cell, chunk, first, last, run_dir, culprit)
            if len(failed) == members.num_cells:
                good = f"chunk {chunk - 1}" if chunk else "none yet"
                raise NonFiniteError(
                    f"non-finite values (NaN/inf) in chunk {chunk} (env steps {first}-{last}); "
                    f"stopped. Last good checkpoint: {good} in {run_dir}. "
                    f"{_hint(culprits[min(culprits)])}"
                )
            rate = sizes.steps_per_chunk * members.size / seconds
            new_rows = _cell_rows(members, per_member, chunk, last, failed)
            for row in new_rows:
                row["steps_per_s"] = rate
            rows += new_rows
            logger.log(new_rows, sizes.steps_per_chunk, rate)
            if writer:
                _write_seeds(
                    run_dir, chunk, last, {k: v[: members.size] for k, v in per_member.items()}
                )
            meta = {"chunk": chunk, "step": last, "config": stored, "failed_cells": failed}
            checkpoints.save(chunk, real(state) if padded else state, meta)
            saved = chunk
    except KeyboardInterrupt:
        interrupted = True
        # A Ctrl-C held during a save is raised once the save is complete: ask the disk.
        saved = max(saved, checkpoints.latest() if checkpoints.latest() is not None else -1)
        print(
            f"\ninterrupted: chunks up to {saved} are checkpointed in {run_dir}; continue "
            f"with marl-train resume={run_dir}",
            file=sys.stderr,
        )
    finally:
        logger.close()
        checkpoints.close()

    if writer:
        # Only checkpointed chunks count: a chunk logged but not saved is redone on resume.
        rows = [r for r in rows if r["chunk"] <= saved]
        timing = {
            "compile_s": compile_s,
            "train_s_this_call": train_s,
            "steps_per_s": (saved + 1 - start)
            * sizes.steps_per_chunk
            * members.size
            / max(train_s, 1e-9),
            "devices": place.num_devices,
            "processes": jax.process_count(),
        }
        _write_summary(cfg, members, sizes, run_dir, rows, failed, interrupted, timing)
    if interrupted:
        raise KeyboardInterrupt
    if failed:
        cells = "; ".join(members.sweep.describe(c) for c in sorted(failed))
        raise NonFiniteError(
            f"non-finite values (NaN/inf) in {len(failed)} of {members.num_cells} cells: "
            f"{cells}. The other cells ran to the end; their rows are in {run_dir}/metrics.jsonl"
        )


def _finished(checkpoints: Checkpointer, num_chunks: int) -> bool:
    """The newest checkpoint is the last chunk's and intact (a damaged one is resumed
    from the one before it)."""
    latest = checkpoints.latest()
    if latest is None or latest + 1 < num_chunks:
        return False
    try:
        checkpoints.verify(latest)
    except CheckpointDamaged:
        return False
    return True


def _write_summary(cfg, members, sizes, run_dir, rows, failed, interrupted, timing) -> None:
    """summary.json and the plots, from the rows of the checkpointed chunks."""
    chunks_done = len({r["chunk"] for r in rows})
    summary = {
        "run_dir": str(run_dir),
        "env": cfg.env.name,
        "algo": cfg.algo.get("name"),
        "num_seeds": cfg.num_seeds,
        "chunks_done": chunks_done,
        "num_chunks": sizes.num_chunks,
        "finished": chunks_done == sizes.num_chunks,
        "interrupted": interrupted,
        "env_steps_per_seed": rows[-1]["step"] if rows else 0,
        **timing,
    }
    if members.sweep is None:
        plots = plot_run(rows, run_dir)
        summary["final"] = rows[-1] if rows else {}
    else:
        plots = plot_sweep(rows, run_dir)
        summary["cells"] = members.num_cells
        summary["final"] = _final_rows(rows)
        summary["failed_cells"] = [
            {"cell": c, "chunk": k, "values": members.sweep.cells[c]}
            for c, k in sorted(failed.items())
        ]
    summary["plots"] = [p.name for p in plots]
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))


def _write_seeds(run_dir: Path, chunk: int, step: int, per_member: dict) -> None:
    """seeds/chunk_<k>.npz: every metric per member (cell-major, seeds within a cell), the
    samples behind the rows' means, for confidence intervals over seeds (marl-report).
    Written whole and renamed, so a kill leaves no torn file; a redone chunk replaces it."""
    folder = run_dir / "seeds"
    folder.mkdir(exist_ok=True)
    path = folder / f"chunk_{chunk:05d}.npz"
    partial = folder / f".{path.name}.partial"
    with partial.open("wb") as f:
        np.savez(
            f, step=np.int64(step), **{_row_name(k): np.asarray(v) for k, v in per_member.items()}
        )
    partial.replace(path)


def _final_rows(rows: list[dict]) -> list[dict]:
    """The last row of each cell."""
    last = {}
    for row in rows:
        last[row.get("cell", 0)] = row
    return [last[c] for c in sorted(last)]


def _report_nonfinite(members: Members, cell: int, chunk, first, last, run_dir, culprit) -> None:
    if members.sweep is None:
        return  # a plain run stops with NonFiniteError at once
    print(
        f"marl-train: warning: non-finite values (NaN/inf) in {members.sweep.describe(cell)} "
        f"in chunk {chunk} (env steps {first}-{last}; {_hint(culprit)}); that cell is no "
        f"longer logged, the others go on (run {run_dir})",
        file=sys.stderr,
    )


def _write_sweep_json(run_dir: Path, members: Members, place) -> None:
    sweep = members.sweep
    record = {
        "mode": sweep.mode,
        "keys": list(sweep.keys),
        "axes": {k: list(v) for k, v in sweep.axes.items()},
        "num_seeds": members.num_seeds,
        "members": members.size,
        "devices": place.num_devices,
        "cells": [{"cell": i, "values": values} for i, values in enumerate(sweep.cells)],
    }
    (run_dir / "sweep.json").write_text(json.dumps(record, indent=2))


def _hydra_main(cfg) -> None:
    import logging

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
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
    elif raw.get("run_dir") is None and hydra_cfg.mode == RunMode.MULTIRUN:
        raw["run_dir"] = hydra_cfg.runtime.output_dir  # <sweep dir>/<job number>
    try:
        train(raw)
    except (ConfigError, CheckpointMismatch, NonFiniteError, ValueError) as err:
        print(f"marl-train: error: {err}", file=sys.stderr)
        sys.exit(2 if not isinstance(err, NonFiniteError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)


def main() -> None:
    import hydra

    sys.argv[1:] = sweep_overrides(sys.argv[1:])
    app = hydra.main(config_path="pkg://marl.configs", config_name="config", version_base="1.3")
    app(_hydra_main)()

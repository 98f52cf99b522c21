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
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import jax
import yaml

import marl
from marl import algos, plugins
from marl.config import ConfigError, RunConfig, build, to_dict
from marl.sweeps import Members, build_members, fetch, start_distributed
from marl.sweeps.devices import is_writer
from marl.training.checkpoint import CheckpointDamaged, Checkpointer, CheckpointMismatch
from marl.training.folder import RunLock, read_rows, refuse_existing_run, sigterm_as_interrupt
from marl.training.logger import Logger, start_wandb
from marl.training.program import Program, culprits, hint
from marl.training.records import aggregate, cell_rows, write_seeds, write_summary, write_sweep_json
from marl.wrappers import EpisodeStats, reward_transform

# Keys a resumed run may change: they do not affect the numbers.
RESUME_MAY_CHANGE = {"resume", "run_dir", "progress", "wandb", "distributed", "break_lock"}


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
        cfg = compose_hydra("config", overrides=command_overrides(overrides))
    return OmegaConf.to_container(cfg, resolve=True)


def command_overrides(overrides) -> list[str]:
    """What users type, as Hydra needs it.

    `sweep.<key>=[...]` adds a key to the empty `sweep:` node, which Hydra only allows as
    `++sweep.<key>`. Installed plugins' config packages (marl.plugins) join Hydra's search
    path, after any `hydra.searchpath` given, so `env=<plugin env>` finds its yaml."""
    out = [f"++{o}" if o.startswith("sweep.") else o for o in overrides]
    packages = [f"pkg://{p}" for p in plugins.config_packages()]
    if not packages:
        return out
    for i, override in enumerate(out):
        key, _, value = override.partition("=")
        if key.lstrip("+") == "hydra.searchpath":
            given = [v.strip() for v in value.strip().strip("[]").split(",") if v.strip()]
            out[i] = f"{key}=[{','.join(given + packages)}]"
            return out
    return [*out, f"hydra.searchpath=[{','.join(packages)}]"]


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

    # wandb first: an online login that fails should fail before a long compile.
    wandb_run = start_wandb(cfg, run_dir, writer)
    say = (
        (lambda text: print(f"marl-train: {text}", file=sys.stderr)) if writer else (lambda _: None)
    )
    try:  # a run that fails before its first chunk closes its wandb run as failed
        say(f"run folder {run_dir}")
        say("compiling the training program...")
        program = Program.build(members, sizes.updates_per_chunk, cfg.seed, cfg.compiler_options)
        say(f"compiled in {program.compile_s:.1f} s")
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
                write_sweep_json(run_dir, members, place)
        run_chunk, compile_s, leaf_names = program.run_chunk, program.compile_s, program.leaf_names
    except BaseException:
        if wandb_run is not None:
            wandb_run.finish(exit_code=1)
        raise

    per_chunk = sizes.steps_per_chunk * members.size  # env steps over every member
    logger = Logger(
        cfg, run_dir, per_chunk * sizes.num_chunks, per_chunk * start, writer, wandb_run
    )
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
            per_member = aggregate(metrics)
            first, last = chunk * sizes.steps_per_chunk, (chunk + 1) * sizes.steps_per_chunk
            bad = culprits(metrics, finite, leaf_names, members.size)
            for member, culprit in sorted(bad.items()):
                cell = member // members.num_seeds
                if cell not in failed:
                    failed[cell] = chunk
                    _report_nonfinite(members, cell, chunk, first, last, run_dir, culprit)
            if len(failed) == members.num_cells:
                good = f"chunk {chunk - 1}" if chunk else "none yet"
                raise NonFiniteError(
                    f"non-finite values (NaN/inf) in chunk {chunk} (env steps {first}-{last}); "
                    f"stopped. Last good checkpoint: {good} in {run_dir}. "
                    f"{hint(bad[min(bad)])}"
                )
            rate = per_chunk / seconds
            new_rows = cell_rows(members, per_member, chunk, last, failed)
            for row in new_rows:
                row["steps_per_s"] = rate
            rows += new_rows
            logger.log(new_rows, per_chunk)
            if writer:
                write_seeds(
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
        write_summary(cfg, members, sizes, run_dir, rows, failed, interrupted, timing)
        if not interrupted:
            say(f"done: {saved + 1} chunks in {run_dir}")
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


def _report_nonfinite(members: Members, cell: int, chunk, first, last, run_dir, culprit) -> None:
    if members.sweep is None:
        return  # a plain run stops with NonFiniteError at once
    print(
        f"marl-train: warning: non-finite values (NaN/inf) in {members.sweep.describe(cell)} "
        f"in chunk {chunk} (env steps {first}-{last}; {hint(culprit)}); that cell is no "
        f"longer logged, the others go on (run {run_dir})",
        file=sys.stderr,
    )


def _hydra_main(cfg) -> None:
    import logging

    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    # Hydra sets the root logger to INFO; JAX's backend probing and orbax's (absl's)
    # checkpoint housekeeping are noise at that level.
    for noisy in ("jax", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

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
    elif hydra_cfg.mode == RunMode.MULTIRUN:
        if raw.get("run_dir") is None:
            raw["run_dir"] = hydra_cfg.runtime.output_dir  # <sweep dir>/<job number>
        if raw["wandb"].get("group") is None and "WANDB_RUN_GROUP" not in os.environ:
            raw["wandb"]["group"] = Path(hydra_cfg.sweep.dir).name  # the jobs of one multirun
    try:
        train(raw)
    except (ConfigError, CheckpointMismatch, NonFiniteError, ValueError) as err:
        print(f"marl-train: error: {err}", file=sys.stderr)
        sys.exit(2 if not isinstance(err, NonFiniteError) else 1)
    except KeyboardInterrupt:
        sys.exit(130)


def main() -> None:
    import hydra

    sys.argv[1:] = command_overrides(sys.argv[1:])
    app = hydra.main(config_path="pkg://marl.configs", config_name="config", version_base="1.3")
    app(_hydra_main)()

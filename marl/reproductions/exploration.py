"""Exploration versus cooperation: a vmapped sweep over exploration x dilemma x sharing.

`marl-reproduce exploration_vs_cooperation [--out DIR] [--quick] [--env harvest]`

The Weng & Lee (arXiv 2601.05509) question: does cooperation collapse as exploration
grows when every agent shares one Q-network, and do grouped or independent learners
resist? This module holds the presets and reads the runs (the figures are in
exploration_figures.py); the training is marl-train's: each
sharing mode is one run of the driver whose in-program sweep (`sweep:` over the env
param, Dr = `dilemma`, and the exploration start, tau_init = `algo.explore_start`) trains
every (Dr, tau_init, seed) cell in one compiled program (the mode sets the parameter
shapes, so modes are separate runs, in `DIR/runs/<mode>`; `marl-report DIR/runs` tables
them). The evaluation phase must be whole chunks (learning_stops on a chunk boundary).

Spatial PD (default): cells Dr x tau_init x seed; the last `learning_stops`..end steps are
the evaluation phase (learning off, temperature at its end value). `results.csv` has one
row per run with the columns `sharing, Dr, tau_init, B, seed, cooperation, q_gap_all_c,
q_mean, td_loss`:
- B: exploration intensity, the mean temperature over the first half of the learning
  phase (the paper's first 47,500 of 95,000 steps; 0.75 tau_init + 0.025 there);
- cooperation: the fraction of agents playing C, averaged over the evaluation steps;
- q_gap_all_c: Q(C) - Q(D) of the final greedy network for an agent whose observation is
  the all-cooperate neighbourhood (all 5 bits C), averaged over agents (so over banks);
- q_mean, td_loss: the mean Q-value and TD loss over the last learning chunk.
Figures: `cooperation_vs_B.png` (a panel per Dr, a line per sharing mode, mean and
min-max band over seeds), `q_gap_vs_B.png` (Dr = 0.25) and `cooperation_curves.png`.

Harvest (`--env harvest`): cells epsilon start x seed with epsilon-greedy DQN (CNN);
columns `sharing, epsilon_start, B, seed, episode_return, efficiency, equality,
sustainability, peace`; figure `harvest_vs_epsilon.png`.

Independent learners on the spatial PD use the exact Q-table the spec allows (32 states
x 2 actions per agent, `algo.q_table=true`: tabular Double Q-learning with step size
`table_lr`) with 16 own transitions per gradient step: hundreds of networks with
256-sample batches are out of reach of a 2-core CPU, and a table has no representation
to share or entangle.
"""

from __future__ import annotations

import csv
import json
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from marl.config import ConfigError
from marl.reproductions.exploration_figures import harvest_figures, spd_figures
from marl.train import compose, prepare, train
from marl.training.checkpoint import Checkpointer

QUIET = ("wandb.mode=disabled", "progress=false")
# results.csv columns, one row per run
SPD_COLUMNS = (
    "sharing", "Dr", "tau_init", "B", "seed", "cooperation", "q_gap_all_c", "q_mean", "td_loss",
)  # fmt: skip
# XLA's CPU backend (jaxlib 0.10) hands reductions and elementwise fusions to YNNPACK,
# which makes this program's many reductions over tiny axes (n-step windows, 2 actions)
# several times slower; keep YNNPACK for matrix products only (marl-train's
# `compiler_options`, on a CPU). The documented results were computed with it.
CPU_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}
HARVEST_COLUMNS = (
    "sharing", "epsilon_start", "B", "seed",
    "episode_return", "efficiency", "equality", "sustainability", "peace",
)  # fmt: skip


@dataclass(frozen=True)
class Sweep:
    """One benchmark: Hydra overrides for the base run, and the grid to sweep."""

    env: str
    overrides: tuple[str, ...]  # on top of configs/config.yaml
    sharing: dict[str, tuple[str, ...]]  # sharing mode -> its extra overrides
    explore_starts: tuple[float, ...]  # tau_init (Boltzmann) or epsilon start
    seeds: int
    env_param: str | None = None  # an env param leaf swept inside the program
    env_values: tuple[float, ...] = ()
    seed: int = 0
    scale_note: str = ""  # how this scale compares with the paper's
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def values(self) -> tuple:
        return self.env_values if self.env_param else (None,)

    def cells(self) -> list[tuple]:
        """(env value, explore start, seed index) of every run, in program order."""
        return [
            (v, s, k) for v in self.values for s in self.explore_starts for k in range(self.seeds)
        ]


# ---- the spatial PD: Weng & Lee ------------------------------------------------------------
DILEMMAS = (0.10, 0.25, 0.40)
TAU_INITS = (0.127, 0.327, 0.527, 0.727)
SPD_SHARING = {
    "shared": (),
    "groups:10": (),
    # 900 exact tables instead of 900 networks; a table needs far fewer samples per step.
    "independent": ("algo.q_table=true", "algo.batch_size=16"),
}
TABLE_NOTE = (
    "independent: one exact Q-table (32 states x 2 actions) per agent, batched tabular "
    "Double Q-learning on the same 5-step returns, replay and target copies: each sampled "
    "entry moves by table_lr = 0.1 times the mean TD error of its samples, 16 of the "
    "agent's own transitions per gradient step (a network's lr, weight decay, clipping "
    "and Huber loss do not apply to a table)"
)

# The paper's protocol on a 20 x 20 lattice: a 30 x 30 sweep takes about 3 times as long
# (the replay of 18 runs no longer fits in cache), past 30 minutes on 2 cores.
SPD_FULL = Sweep(
    env="spatial_pd",
    overrides=("+experiment=exploration_spd", "env.args.size=20", "algo.buffer_size=40000"),
    sharing=SPD_SHARING,
    explore_starts=TAU_INITS,
    seeds=2,
    env_param="dilemma",
    env_values=DILEMMAS,
    scale_note=(
        "20 x 20 lattice (400 agents; the paper: 30 x 30) with the paper's protocol and "
        "every other hyperparameter of the paper: 95,000 learning + 5,000 evaluation steps, "
        "replay of the last 100 steps (40,000 transitions), batch 256; 4 tau_init values "
        "and 2 seeds (the paper: tau_init 0.127 ... 0.727, 30 seeds)"
    ),
    notes=(TABLE_NOTE,),
)

# A 10 x 10 lattice for 10,000 steps: the same machinery in about a minute on 2 cores.
SPD_QUICK = Sweep(
    env="spatial_pd",
    overrides=(
        "+experiment=exploration_spd",
        "env.args.size=10",
        "total_steps=10000",
        "num_chunks=10",
        "algo.buffer_size=10000",
        "algo.learning_stops=9000",
        "algo.explore_steps=9000",
        "algo.target_every=500",
        "algo.lr=0.001",
    ),
    sharing=SPD_SHARING,
    explore_starts=TAU_INITS,
    seeds=2,
    env_param="dilemma",
    env_values=DILEMMAS,
    scale_note=(
        "quick: 10 x 10 lattice (100 agents, so groups:10 has 10 agents per group), "
        "9,000 learning + 1,000 evaluation steps, target copy every 500 steps, lr 1e-3"
    ),
    notes=(TABLE_NOTE,),
)

# ---- Commons Harvest: epsilon schedules x sharing --------------------------------------
HARVEST_BASE = (
    "env=harvest",
    "algo=dqn",
    "algo.network.torso=cnn",
    "algo.exploration=epsilon",
    "algo.explore_end=0.05",
)
HARVEST_SHARING = {"shared": (), "groups:3": (), "independent": ()}
EPSILON_STARTS = (0.1, 0.5, 1.0)

# Sized for a GPU: 7 agents, 1000-step episodes, 64 envs, 500k time steps per env.
HARVEST_FULL = Sweep(
    env="harvest",
    overrides=(
        *HARVEST_BASE,
        "algo.num_envs=64",
        "algo.num_steps=8",
        "algo.gradient_steps=2",
        "algo.batch_size=256",
        "algo.buffer_size=500000",
        "algo.learning_starts=5000",
        "algo.explore_steps=250000",
        "algo.learning_stops=450000",
        "algo.target_every=2000",
        "algo.lr=0.0003",
        "total_steps=32000000",
        "num_chunks=50",
    ),
    sharing=HARVEST_SHARING,
    explore_starts=EPSILON_STARTS,
    seeds=3,
    scale_note=(
        "GPU scale: melting_pot preset (7 agents), 1000-step episodes, 64 envs x 500,000 "
        "time steps per run, the last 50,000 time steps evaluated with learning off"
    ),
)

# Tiny, for a CPU: 20-step episodes, a small CNN, 2 envs x 600 time steps.
HARVEST_QUICK = Sweep(
    env="harvest",
    overrides=(
        *HARVEST_BASE,
        "env.args.episode_length=20",
        "algo.network.channels=[8]",
        "algo.network.hidden=[32]",
        "algo.num_envs=2",
        "algo.num_steps=4",
        "algo.batch_size=32",
        "algo.buffer_size=8400",
        "algo.learning_starts=40",
        "algo.explore_steps=400",
        "algo.learning_stops=480",
        "algo.target_every=100",
        "total_steps=1200",
        "num_chunks=5",
    ),
    sharing=HARVEST_SHARING,
    explore_starts=EPSILON_STARTS,
    seeds=2,
    scale_note="quick: 20-step episodes, 2 envs x 600 time steps, an 8-channel CNN",
)

PRESETS = {
    ("spatial_pd", False): SPD_FULL,
    ("spatial_pd", True): SPD_QUICK,
    ("harvest", False): HARVEST_FULL,
    ("harvest", True): HARVEST_QUICK,
}


# ---- running one sharing mode ----------------------------------------------------------
def compose_config(*overrides: str) -> dict:
    """The driver's config for these Hydra overrides, as a plain dict."""
    return compose([*overrides, *QUIET])


def exploration_intensity(config, start: float) -> float:
    """B: the mean epsilon or temperature over the first half of the learning phase."""
    learning = config.learning_stops or None
    half = (learning or config.explore_steps) // 2
    frac = np.minimum(np.arange(half) / config.explore_steps, 1.0)
    return float(np.mean(start + (config.explore_end - start) * frac))


def check_sweep(spec: Sweep) -> None:
    """Refuse a bad grid before anything compiles."""
    if spec.seeds < 1:
        raise ConfigError(f"sweep: seeds={spec.seeds} must be >= 1")
    if not spec.explore_starts:
        raise ConfigError("sweep: explore_starts is empty")
    if spec.env_param is not None and not spec.env_values:
        raise ConfigError(f"sweep: env_param={spec.env_param!r} given without env_values")
    if not spec.sharing:
        raise ConfigError("sweep: no sharing modes")


def _list(values) -> str:
    return "[" + ",".join(repr(float(v)) for v in values) + "]"


def mode_config(spec: Sweep, sharing: str, run_dir: Path) -> dict:
    """marl-train's config of one sharing mode: the preset, and the grid as its sweep
    (cells: env value x exploration start, in `spec.cells()` order)."""
    grid = [f"sweep.algo.explore_start={_list(spec.explore_starts)}"]
    if spec.env_param is not None:
        grid.insert(0, f"sweep.env.args.{spec.env_param}={_list(spec.env_values)}")
    if jax.default_backend() == "cpu":
        grid += [f"++compiler_options.{k}={v}" for k, v in CPU_OPTIONS.items()]
    return compose_config(
        *spec.overrides,
        f"algo.sharing={sharing}",
        *spec.sharing[sharing],
        f"num_seeds={spec.seeds}",
        f"seed={spec.seed}",
        *grid,
        f"run_dir={run_dir}",
    )


def _per_member(run_dir: Path, chunks) -> dict:
    """metric -> [members, len(chunks)] from the run's per-seed files."""
    loaded = []
    for chunk in chunks:
        with np.load(run_dir / "seeds" / f"chunk_{chunk:05d}.npz") as data:
            loaded.append({k: data[k] for k in data.files if k != "step"})
    return {k: np.stack([c[k] for c in loaded], 1) for k in loaded[0]}


def _final_params(raw: dict, run_dir: Path):
    """The trainer of cell 0 and the last checkpoint's params of every member."""
    cfg, _, trainer, _, members = prepare(raw)
    template = jax.eval_shape(jax.vmap(members.init), members.keys(cfg.seed), members.values)
    with Checkpointer(run_dir / "checkpoints") as checkpoints:
        state, _ = checkpoints.restore(template)
    return trainer, state.params


def run_mode(spec: Sweep, sharing: str, log=print, run_dir: Path | None = None) -> dict:
    """Train every cell of the grid with one sharing mode (one marl-train sweep, one
    compiled program); per-cell results and timings."""
    if run_dir is None:
        run_dir = Path(tempfile.mkdtemp(prefix=f"exploration_{sharing}_".replace(":", "")))
    raw = mode_config(spec, sharing, run_dir)
    cfg, env, trainer, plan, _ = prepare(raw)
    if cfg.algo.get("name") != "dqn":
        raise ConfigError(f"sweep: algo={cfg.algo.get('name')!r}; the sweep drives dqn")
    config = trainer.config
    # Schedules count time steps (steps of each env); an update takes num_steps of them.
    chunk_time = plan.updates_per_chunk * config.num_steps
    learning_stops = config.learning_stops or chunk_time * (plan.num_chunks - 1)
    if learning_stops % chunk_time or learning_stops >= chunk_time * plan.num_chunks:
        raise ConfigError(
            f"sweep: learning_stops={learning_stops} must end a chunk of {chunk_time} time "
            f"steps before the last, so that the evaluation phase is whole chunks"
        )
    log(f"[{sharing}] {len(spec.cells())} runs in one program: {run_dir}")
    train(raw)
    summary = json.loads((run_dir / "summary.json").read_text())
    first_eval = learning_stops // chunk_time
    evaluated = _per_member(run_dir, range(first_eval, plan.num_chunks))
    tail = _per_member(run_dir, [first_eval - 1]) if first_eval else {}
    cells = spec.cells()
    missing = np.full(len(cells), np.nan)
    mean_of = lambda table, key: table[key].mean(1) if key in table else missing  # noqa: E731

    gaps = np.full(len(cells), np.nan)
    if spec.env == "spatial_pd":
        # The all-cooperate neighbourhood: every bit (4 neighbours, own last action) is C.
        trainer, params = _final_params(raw, run_dir)
        all_c = jnp.zeros((env.num_agents, *trainer.obs_shape), jnp.float32)
        q = jax.jit(jax.vmap(lambda p: trainer.q_values(p, all_c)))(params)
        gaps = np.asarray((q[..., 0] - q[..., 1]).mean(-1))

    rows = []
    for i, (value, start, seed) in enumerate(cells):
        row = {"sharing": sharing, "seed": seed, "B": exploration_intensity(config, start)}
        if spec.env == "spatial_pd":
            row.update(Dr=value, tau_init=start, q_gap_all_c=float(gaps[i]))
            row["cooperation"] = float(mean_of(evaluated, "step/cooperation_rate")[i])
            row["q_mean"] = float(mean_of(tail, "q_mean")[i])
            row["td_loss"] = float(mean_of(tail, "loss/td")[i])
            columns = SPD_COLUMNS
        else:
            row["epsilon_start"] = start
            row.update({k: float(mean_of(evaluated, k)[i]) for k in HARVEST_COLUMNS[4:]})
            columns = HARVEST_COLUMNS
        rows.append({k: row[k] for k in columns})
    headline = "step/cooperation_rate" if spec.env == "spatial_pd" else "efficiency"
    curves = _per_member(run_dir, range(plan.num_chunks)).get(headline)
    if curves is None:
        curves = np.full((len(cells), plan.num_chunks), np.nan)
    env_steps = plan.steps_per_chunk * plan.num_chunks  # over all envs of a run
    run_s = summary["train_s_this_call"]
    return {
        "rows": rows,
        "curves": curves,  # [cells, chunks]
        "chunk_steps": chunk_time,
        "compile_s": summary["compile_s"],
        "run_s": run_s,
        "cells": len(cells),
        "env_steps_per_s": env_steps * len(cells) / run_s,
        "agent_steps_per_s": env_steps * len(cells) * env.num_agents / run_s,
        "num_agents": env.num_agents,
        "time_steps": chunk_time * plan.num_chunks,  # per env
        "env_steps": env_steps,
        "learning_stops": learning_stops,
        "run_dir": str(run_dir),
        "config": {k: v for k, v in cfg.algo.items() if k != "network"} | {"env": cfg.env.args},
    }


# ---- the whole benchmark ----------------------------------------------------------------
def run_sweep(spec: Sweep, out: Path, log=print) -> dict:
    """Every sharing mode of `spec`; writes results.csv and figures into `out`."""
    check_sweep(spec)
    out.mkdir(parents=True, exist_ok=True)
    modes, rows = {}, []
    for sharing in spec.sharing:
        result = run_mode(spec, sharing, log, out / "runs" / sharing.replace(":", ""))
        rows += result.pop("rows")
        modes[sharing] = result
    write_csv(rows, out / "results.csv")
    if spec.env == "spatial_pd":
        figures = spd_figures(spec, rows, modes, out)
    else:
        figures = harvest_figures(spec, rows, out)
    table = mean_table(spec, rows)
    for mode in modes.values():
        mode["curves"] = mode["curves"].round(4).tolist()
    return {
        "env": spec.env,
        "scale": spec.scale_note,
        "notes": list(spec.notes),
        "sharing": {k: list(v) for k, v in spec.sharing.items()},
        "explore_starts": list(spec.explore_starts),
        "env_param": spec.env_param,
        "env_values": list(spec.env_values),
        "seeds": spec.seeds,
        "runs": len(rows),
        "modes": modes,
        "table": table,
        "files": ["results.csv", *figures],
    }


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _key(spec: Sweep, row: dict) -> tuple:
    if spec.env == "spatial_pd":
        return row["sharing"], row["Dr"], row["tau_init"]
    return row["sharing"], row["epsilon_start"]


def mean_table(spec: Sweep, rows: list[dict]) -> list[dict]:
    """Per (sharing, Dr, tau) or (sharing, epsilon): means over seeds, plus min and max."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(_key(spec, row), []).append(row)
    skip = {"sharing", "Dr", "tau_init", "epsilon_start", "B", "seed"}
    table = []
    for members in groups.values():
        first = members[0]
        entry = {k: first[k] for k in first if k in skip and k != "seed"}
        entry["seeds"] = len(members)
        for name in first:
            if name in skip:
                continue
            values = np.array([m[name] for m in members], np.float64)
            entry[name] = float(np.mean(values))
            entry[f"{name}_min"] = float(np.min(values))
            entry[f"{name}_max"] = float(np.max(values))
        table.append(entry)
    return table


# ---- the marl-reproduce entry ----------------------------------------------------------
def exploration_vs_cooperation(
    out: Path,
    quick: bool,
    env: str = "spatial_pd",
    seeds: int | None = None,
    sharing: str | None = None,
) -> dict:
    """The benchmark for marl-reproduce: the preset for `env` (spatial_pd or harvest), with
    optionally another number of seeds or a comma-separated subset of its sharing modes."""
    spec = exploration_spec(quick, env, seeds, sharing)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    return run_sweep(spec, Path(out), log)


def exploration_spec(
    quick: bool, env: str = "spatial_pd", seeds: int | None = None, sharing: str | None = None
) -> Sweep:
    """The sweep `exploration_vs_cooperation` runs, or ConfigError for a bad choice;
    marl-reproduce calls it before creating any folder."""
    if (env, quick) not in PRESETS:
        choices = sorted({name for name, _ in PRESETS})
        raise ConfigError(f"exploration_vs_cooperation: --env {env!r}; choose from {choices}")
    spec = PRESETS[env, quick]
    if seeds is not None:
        spec = replace(spec, seeds=seeds)
    if sharing is not None:
        modes = [m.strip() for m in sharing.split(",") if m.strip()]
        unknown = [m for m in modes if m not in spec.sharing]
        if unknown or not modes:
            raise ConfigError(
                f"exploration_vs_cooperation: --sharing {sharing!r}; choose from "
                f"{', '.join(spec.sharing)}"
            )
        spec = replace(spec, sharing={m: spec.sharing[m] for m in modes})
    check_sweep(spec)
    return spec

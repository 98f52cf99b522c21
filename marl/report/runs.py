"""Finding runs in folders and pooling their seeds into cells.

A run folder holds `config.yaml` and `metrics.jsonl` (marl-train's output); an in-program
sweep adds `sweep.json` and tags rows with `cell`; `seeds/chunk_<k>.npz` holds every
metric per seed. Folders are searched recursively, so a run, a `--multirun` folder, a
folder of sweeps or marl-reproduce's output all work.

Cells: every (run, sweep cell) is a unit with a flat config (the cell's values set, and
the keys that do not change the numbers, such as `seed` and `run_dir`, removed). The
config keys whose values differ between units are the report's factors; units with the
same factor values are one cell, and their seeds are pooled (so `--multirun seed=0,1,2`
gives one cell of three seeds). A run written before per-seed files existed contributes
its seed mean as one sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from marl.sweeps.spec import cell_config, flatten

# Keys that do not change a run's numbers, or that say how it was run.
IGNORED = {"seed", "run_dir", "resume", "progress", "wandb", "checkpoint_keep", "distributed"}


@dataclass
class Unit:
    """One run, or one cell of an in-program sweep: its chunks' steps and per-seed values."""

    path: Path
    config: dict  # flat dotted keys -> value (hashable form)
    steps: np.ndarray  # [chunks]
    values: dict  # metric -> [seeds, chunks] (NaN where undefined)
    per_seed: bool  # False: one sample, the seed mean of metrics.jsonl


@dataclass
class Cell:
    factors: dict  # factor -> value
    units: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.factors.items()) or "all runs"

    def scores(self, metric: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps [chunks], values [seeds, chunks]) pooled over this cell's units, on the
        chunks they share."""
        have = [u for u in self.units if metric in u.values]
        if not have:
            return np.zeros(0), np.zeros((0, 0))
        chunks = min(u.values[metric].shape[1] for u in have)
        values = np.concatenate([u.values[metric][:, :chunks] for u in have])
        return have[0].steps[:chunks], values


def find_runs(folders: list[str | Path]) -> list[Path]:
    """Every run folder at or below `folders`, in a stable order."""
    found: list[Path] = []
    for folder in map(Path, folders):
        if not folder.exists():
            raise FileNotFoundError(f"marl-report: {folder} does not exist")
        candidates = [folder] if _is_run(folder) else []
        candidates += sorted(p.parent for p in folder.rglob("metrics.jsonl") if p.parent != folder)
        found += [p for p in candidates if _is_run(p) and p not in found]
    if not found:
        where = ", ".join(map(str, folders))
        raise FileNotFoundError(
            f"marl-report: no run folder (config.yaml + metrics.jsonl) in {where}"
        )
    return found


def _is_run(folder: Path) -> bool:
    return (folder / "metrics.jsonl").is_file() and (folder / "config.yaml").is_file()


def _hashable(value):
    return json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value


def _flat_config(raw: dict) -> dict:
    flat = flatten({k: v for k, v in raw.items() if k not in IGNORED and k != "sweep"})
    return {k: _hashable(v) for k, v in flat.items()}


def _read_rows(path: Path) -> list[dict]:
    rows = []
    for line in (path / "metrics.jsonl").read_text().splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def load_units(run: Path) -> list[Unit]:
    """The units of one run folder: one, or one per cell of its sweep."""
    raw = yaml.safe_load((run / "config.yaml").read_text())
    rows = _read_rows(run)
    sweep_file = run / "sweep.json"
    cells = json.loads(sweep_file.read_text())["cells"] if sweep_file.exists() else None
    num_seeds = int(raw.get("num_seeds", 1))
    seeds = _per_seed(run)
    units = []
    for cell in cells or [None]:
        index = 0 if cell is None else cell["cell"]
        mine = [r for r in rows if r.get("cell", 0) == index]
        if not mine:
            continue  # a cell that failed before its first row
        chunks = [r["chunk"] for r in mine]
        config = _flat_config(cell_config(raw, cell["values"]) if cell else raw)
        if seeds is not None and all(c in seeds for c in chunks):
            members = slice(index * num_seeds, (index + 1) * num_seeds)
            metrics = set.intersection(*(set(seeds[c]) for c in chunks)) - {"step"}
            values = {m: np.stack([seeds[c][m][members] for c in chunks], 1) for m in metrics}
            per_seed = True
        else:
            names = {k for r in mine for k in r} - {"chunk", "step", "cell", "values"}
            names = {k for k in names if not k.endswith("_std") and k != "steps_per_s"}
            values = {m: np.array([[_number(r.get(m)) for r in mine]]) for m in names}
            per_seed = False
        steps = np.array([r["step"] for r in mine], np.int64)
        units.append(Unit(run, config, steps, values, per_seed))
    return units


def _number(value) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def _per_seed(run: Path) -> dict | None:
    """chunk -> {metric: [members]} from seeds/, or None when the run has none."""
    folder = run / "seeds"
    if not folder.is_dir():
        return None
    out = {}
    for path in sorted(folder.glob("chunk_*.npz")):
        with np.load(path) as data:
            out[int(path.stem.split("_")[1])] = {k: data[k] for k in data.files}
    return out


def group(units: list[Unit]) -> tuple[list[str], list[Cell]]:
    """(factors, cells): the config keys that differ between units, and the units pooled
    by their values of those keys (cells in the order their first unit appears)."""
    keys = sorted({k for u in units for k in u.config})
    factors = [k for k in keys if len({_hashable(u.config.get(k)) for u in units}) > 1]
    cells: dict[tuple, Cell] = {}
    for unit in units:
        signature = tuple(unit.config.get(k) for k in factors)
        cell = cells.setdefault(signature, Cell(dict(zip(factors, signature, strict=True))))
        cell.units.append(unit)
    return factors, list(cells.values())

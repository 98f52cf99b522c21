"""What a run writes besides checkpoints: metrics rows (one per chunk, or per chunk and
cell in a sweep), per-seed samples, `summary.json` and `sweep.json`."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from marl.metrics import finish_episode_means
from marl.plots import plot_run, plot_sweep
from marl.sweeps import Members

# Metrics summed over updates (episode sums and counts) rather than averaged.
SUMMED_PREFIXES = ("episode/", "learners/", "episodes")


def aggregate(metrics: dict) -> dict:
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


def cell_rows(members: Members, per_member: dict, chunk: int, step: int, skip) -> list[dict]:
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


def write_summary(cfg, members, sizes, run_dir, rows, failed, interrupted, timing) -> None:
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


def write_seeds(run_dir: Path, chunk: int, step: int, per_member: dict) -> None:
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


def write_sweep_json(run_dir: Path, members: Members, place) -> None:
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

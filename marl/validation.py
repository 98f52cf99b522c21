"""Checks of concrete param values, shared by every environment's `check_params`."""

from __future__ import annotations

import numpy as np

from marl.env import is_concrete


def check_range(owner: str, field: str, value, low=None, high=None, *, open_low=False):
    """Raise ValueError unless every element of `value` is finite and inside the bounds.

    Values that are tracers (inside jit/vmap) cannot be inspected and pass; `marl.make`
    and `Env.reset` call this with concrete values before anything compiles.
    """
    if not is_concrete(value):
        return
    v = np.asarray(value, dtype=np.float64)
    if v.size == 0:
        return
    lo_text = "-inf" if low is None else f"{low}"
    hi_text = "inf" if high is None else f"{high}"
    allowed = f"{'(' if open_low else '['}{lo_text}, {hi_text}]"
    bad = ~np.isfinite(v)
    if low is not None:
        bad |= (v <= low) if open_low else (v < low)
    if high is not None:
        bad |= v > high
    if bad.any():
        raw = np.asarray(value)
        shown = raw if raw.ndim == 0 else raw[bad]
        raise ValueError(
            f"{owner}: param {field}={shown.tolist()} is out of range; allowed {allowed}"
        )


def check_choice(owner: str, field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{owner}: {field}={value!r} is not one of {sorted(choices)}")

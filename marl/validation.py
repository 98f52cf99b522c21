"""Checks of param values, shared by every environment's `check_params`.

A concrete value outside its range raises ValueError at once. A traced value (inside
jit/vmap) cannot be inspected: it passes, except in a debug-mode env's checks
(`marl.env.traced_checks()`), where it becomes a `checkify` check of the same condition.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

from marl.env import is_concrete, traced_checks


def check_range(owner: str, field: str, value, low=None, high=None, *, open_low=False):
    """Raise ValueError unless every element of `value` is finite and inside the bounds.

    `marl.make`, `Env.reset` and `Env.step` call this (through `check_params`) with
    concrete values before anything compiles or runs.
    """
    lo_text = "-inf" if low is None else f"{low}"
    hi_text = "inf" if high is None else f"{high}"
    allowed = f"{'(' if open_low else '['}{lo_text}, {hi_text}]"
    if not is_concrete(value):
        if traced_checks():
            v = jnp.asarray(value)
            ok = jnp.isfinite(v)
            if low is not None:
                ok &= (v > low) if open_low else (v >= low)
            if high is not None:
                ok &= v <= high
            message = f"{owner}: param {field}={{}} is out of range; allowed {allowed}"
            checkify.check(jnp.all(ok), message, v)
        return
    v = np.asarray(value, dtype=np.float64)
    if v.size == 0:
        return
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


def check_that(owner: str, holds, message: str, *values) -> None:
    """A condition between param values: `holds(*values)` -> bool array.

    `holds` gets NumPy arrays when the values are concrete (even inside a jit trace, where
    jnp would stage ops) and jax arrays when traced, so write it with operators and
    methods both have. Concrete values: ValueError(`owner: message`, `{}` filled by the
    values) unless it holds everywhere. Traced values: a checkify check in debug mode,
    else nothing (and `holds` is not traced at all).
    """
    if is_concrete(values):
        arrays = [np.asarray(v) for v in values]
        if not np.all(holds(*arrays)):
            raise ValueError(f"{owner}: {message.format(*(a.tolist() for a in arrays))}")
    elif traced_checks():
        ok = holds(*(jnp.asarray(v) for v in values))
        checkify.check(jnp.all(ok), f"{owner}: {message}", *values)


def check_choice(owner: str, field: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{owner}: {field}={value!r} is not one of {sorted(choices)}")

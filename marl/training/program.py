"""The compiled program of a run, and what its finiteness flags say when a run goes NaN."""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from marl.config import ConfigError
from marl.sweeps import Layout, Members, layout


def culprits(metrics: dict, finite_leaves, leaf_names: list[str], size: int) -> dict[int, str]:
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


def hint(culprit: str) -> str:
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
            return state, metrics, jax.vmap(finite_leaves)(state)

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


def finite_leaves(state) -> jax.Array:
    """One flag per floating leaf of `state`: are all its values finite?"""
    return jnp.stack([jnp.isfinite(x).all() for x in jax.tree.leaves(state) if _is_float(x)])

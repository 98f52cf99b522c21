"""The environment base class: agents on a leading axis, params passed into every call.

An environment implements three pure functions:

- `init_state(key, params) -> state`: a fresh episode's first state;
- `transition(key, state, actions, params) -> state, reward, done, info`: one step of the
  rules; `info` carries "terminated" and "truncated" (bool[]) and per-agent event counts;
- `observe(state, params) -> obs`: every agent's observation, agent axis first.

The base class composes them into `reset` and an auto-resetting `step`. `step` selects a
fresh `init_state` where the episode ended and calls `observe` once on the result, so the
reset costs a cheap state select rather than a second observation on every step.

The contract on actions and params (docs/api.md, "Invalid actions and params"): concrete
values are checked and refused with a ValueError; inside jit an out-of-range action is
replaced by the env's `invalid_action`, and params cannot be inspected. With `debug` set
(`marl.make(name, debug=True)`), traced actions and params get `checkify` checks too;
`checked(fn)` runs a function with those checks turned into errors.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify

Info = dict[str, jax.Array]

# Set while a debug-mode env checks its params: the shared param checks then turn traced
# values into checkify checks instead of skipping them (see marl/validation.py).
_TRACED_CHECKS = contextvars.ContextVar("marl_traced_checks", default=False)


def is_concrete(x: Any) -> bool:
    """True when `x` holds values now (not a tracer inside jit/vmap/grad)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(x))


def traced_checks() -> bool:
    """True inside a debug-mode env's param checks: check traced values with checkify."""
    return _TRACED_CHECKS.get()


@contextlib.contextmanager
def _checking_traced(on: bool):
    token = _TRACED_CHECKS.set(on)
    try:
        yield
    finally:
        _TRACED_CHECKS.reset(token)


def checked(fn: Callable, errors=checkify.user_checks) -> Callable:
    """`fn` jitted with the checks of debug-mode envs turned into errors.

    Calls `jax.jit(checkify.checkify(fn))` and raises (`err.throw()`, a
    `checkify.JaxRuntimeError` naming the env and the bad action or param) when a check
    failed; otherwise returns `fn`'s output. `errors` as in `checkify.checkify` (e.g.
    `checkify.user_checks | checkify.float_checks` to also catch NaNs made on the way).
    """
    run = jax.jit(checkify.checkify(fn, errors=errors))

    @functools.wraps(fn)
    def call(*args, **kwargs):
        err, out = run(*args, **kwargs)
        err.throw()
        return out

    return call


class Env:
    """Base class of every environment. Subclasses set `num_agents` and `default_params`."""

    num_agents: int
    # A continuing task never ends an episode, so `step` skips the reset work entirely.
    continuing: bool = False
    # Names of `info` entries that the episode-statistics wrapper sums over an episode.
    episode_events: tuple[str, ...] = ()
    # What an out-of-range action means inside jit, where it cannot be refused: this
    # action. The env's no-op where it has one, else a fixed action (docs/api.md).
    invalid_action: int = 0
    # Debug mode (`marl.make(name, debug=True)`): checkify checks of traced actions and
    # params in `reset` and `step`; run them with `checked` (or `checkify.checkify`).
    debug: bool = False

    def __init__(self, *, final_obs: bool = False):
        # Observing the terminal state costs a second `observe`; it is opt-in.
        self.final_obs = final_obs

    # ---- implemented by each environment -------------------------------------------------
    @property
    def default_params(self):
        raise NotImplementedError

    def init_state(self, key: jax.Array, params) -> Any:
        raise NotImplementedError

    def transition(self, key: jax.Array, state, actions: jax.Array, params):
        raise NotImplementedError

    def observe(self, state, params) -> jax.Array:
        raise NotImplementedError

    def observation_space(self, params):
        raise NotImplementedError

    def action_space(self, params):
        raise NotImplementedError

    def check_params(self, params) -> None:
        """Raise ValueError for a param value outside its allowed range or not finite.

        Built from `marl.validation` checks: they skip traced values, or in debug mode
        add checkify checks of them."""

    def episode_metrics(self, totals: Info, length: jax.Array) -> Info:
        """Game-specific rates from one episode's summed events (see `episode_events`)."""
        return {}

    def render(self, state, params) -> jax.Array:
        raise NotImplementedError(f"{type(self).__name__} has no renderer yet")

    # ---- composed by the base class ------------------------------------------------------
    @property
    def name(self) -> str:
        """The registered name when built by `marl.make`, else the class name."""
        return getattr(self, "registered_name", type(self).__name__)

    def reset(self, key: jax.Array, params=None):
        params = self.default_params if params is None else params
        self._check_param_values(params)
        state = self.init_state(key, params)
        return self.observe(state, params), state

    def step(self, key: jax.Array, state, actions: jax.Array, params=None):
        params = self.default_params if params is None else params
        self._check_param_values(params)
        self.check_actions(actions)
        actions = self._valid_actions(actions, params)
        key_rules, key_reset = jax.random.split(key)
        state, reward, done, info = self.transition(key_rules, state, actions, params)
        info = dict(info)
        if self.final_obs:
            info["final_obs"] = self.observe(state, params)
        if not self.continuing:
            fresh = self.init_state(key_reset, params)
            state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, state)
        return self.observe(state, params), state, reward, done, info

    def check_actions(self, actions) -> None:
        """Shape and dtype are static, so a wrong action array fails here, at trace time."""
        shape = getattr(actions, "shape", None)
        dtype = getattr(actions, "dtype", None)
        if shape != (self.num_agents,):
            raise ValueError(
                f"{self.name}: actions must have shape ({self.num_agents},) (one per agent), "
                f"got shape {shape}"
            )
        if dtype is None or not jnp.issubdtype(dtype, jnp.integer):
            raise ValueError(f"{self.name}: actions must be an integer array, got dtype {dtype}")

    def _check_param_values(self, params) -> None:
        """Concrete leaves: a ValueError now (outside jit, or constants inside it). Traced
        leaves: checkify checks in debug mode, else nothing (the checks skip them)."""
        with _checking_traced(self.debug):
            self.check_params(params)

    def _valid_actions(self, actions, params) -> jax.Array:
        """Refuse concrete out-of-range actions; replace traced ones by `invalid_action`."""
        n = self.action_space(params).n
        allowed = f"the action space [0, {n - 1}]"
        if is_concrete(actions):
            values = np.asarray(actions)
            bad = (values < 0) | (values >= n)
            if bad.any():
                raise ValueError(
                    f"{self.name}: actions {values[bad].tolist()} of agents "
                    f"{np.flatnonzero(bad).tolist()} are outside {allowed}"
                )
            return actions
        ok = (actions >= 0) & (actions < n)
        if self.debug:
            first = jnp.argmin(ok)  # the first agent with a bad action
            message = f"{self.name}: action {{}} of agent {{}} is outside {allowed}"
            checkify.check(jnp.all(ok), message, actions[first], first)
        # A select on N ints: the whole cost of the contract on the jitted hot path.
        return jnp.where(ok, actions, jnp.asarray(self.invalid_action, actions.dtype))

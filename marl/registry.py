"""The environment registry: `make(name, **overrides)` and `list_envs()`.

An override is either a constructor argument (static: anything that sets an array shape,
such as the number of agents) or a field of the env's params (an array leaf, vmappable).
Unknown names and keys fail with a ValueError listing what is allowed.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import jax.numpy as jnp
import numpy as np

from marl import plugins


@dataclass(frozen=True)
class EnvSpec:
    name: str
    entry: Callable  # the Env class (or a factory taking keyword arguments)
    kwargs: dict = field(default_factory=dict)  # constructor arguments of this name
    params: dict = field(default_factory=dict)  # param values of this name (its preset)
    presets: dict = field(default_factory=dict)  # preset name -> {kwargs/params overrides}
    description: str = ""


_REGISTRY: dict[str, EnvSpec] = {}
# Modules whose import registers the built-in environments.
_BUILTIN_MODULES = ("marl.envs",)


def register(spec: EnvSpec) -> None:
    if spec.name in _REGISTRY:
        raise ValueError(f"environment {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec


def _load_builtins() -> None:
    """Register the built-in envs, then those of installed plugins (marl.plugins)."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    plugins.load_envs()


def list_envs() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def spec(name: str) -> EnvSpec:
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(
            f"unknown environment {name!r}; registered: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def _constructor_args(entry: Callable) -> set[str]:
    sig = inspect.signature(entry)
    return {n for n, p in sig.parameters.items() if n != "self" and p.kind != p.VAR_KEYWORD}


def _as_param(name: str, field_name: str, value, default):
    """Convert an override to the default leaf's dtype and shape, or explain why not."""
    default = jnp.asarray(default)
    try:
        arr = np.asarray(value, dtype=np.dtype(default.dtype))
        exact = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name}: param {field_name}={value!r} cannot be read as {default.dtype}"
        ) from err
    integral = not jnp.issubdtype(default.dtype, jnp.floating)
    if integral and arr.shape == exact.shape and not np.array_equal(arr, exact):
        raise ValueError(f"{name}: param {field_name}={value!r} must be a whole number")
    if arr.shape != default.shape:
        raise ValueError(
            f"{name}: param {field_name} must have shape {tuple(default.shape)}, got {arr.shape}"
        )
    return jnp.asarray(arr)


def make(name: str, **overrides):
    """Build a registered environment: returns `(env, params)`.

    `preset=<name>` picks a named parameter set where the environment has presets;
    `debug=True` turns on the env's checkify checks of traced actions and params (see
    `marl.env.checked`); other keywords override constructor arguments or params.
    """
    env_spec = spec(name)
    preset = overrides.pop("preset", None)
    debug = overrides.pop("debug", False)
    kwargs, params = dict(env_spec.kwargs), dict(env_spec.params)
    if preset is not None:
        if preset not in env_spec.presets:
            choices = ", ".join(sorted(env_spec.presets)) or "none"
            raise ValueError(f"{name}: unknown preset {preset!r}; presets: {choices}")
        kwargs.update(env_spec.presets[preset].get("kwargs", {}))
        params.update(env_spec.presets[preset].get("params", {}))

    ctor_args = _constructor_args(env_spec.entry)
    for key in list(overrides):
        if key in ctor_args:
            kwargs[key] = overrides.pop(key)
    env = env_spec.entry(**kwargs)
    env.registered_name = name
    if debug:
        env.debug = True
    defaults = env.default_params
    param_fields = {f.name for f in dataclasses.fields(defaults)}
    params.update(overrides)
    unknown = sorted(set(params) - param_fields)
    if unknown:
        raise ValueError(
            f"{name}: unknown override {', '.join(unknown)}; constructor arguments: "
            f"{', '.join(sorted(ctor_args))}; params: {', '.join(sorted(param_fields))}"
        )
    values = {k: _as_param(name, k, v, getattr(defaults, k)) for k, v in params.items()}
    env_params = defaults.replace(**values)
    env.check_params(env_params)
    return env, env_params

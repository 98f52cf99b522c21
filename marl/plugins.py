"""Plugins: environments, scripted policies and config files from other installed packages.

A package adds to `marl`, with no edit to `marl`, by declaring Python entry points
(docs/api.md, "Write your own environment"):

```toml
[project.entry-points."marl.envs"]
my_game = "my_package.game"               # a module whose import registers envs (or a
                                          # function, called once, that registers them)
[project.entry-points."marl.policies"]
my_bot = "my_package.bots:my_bot"         # factory(env) -> rule(key, obs) -> action
[project.entry-points."marl.configs"]
my_package = "my_package.configs"         # a package holding env/<name>.yaml (and algo/...)
```

Envs then appear in `marl.list_envs()` and every command (`marl-train env=my_game`,
`marl-eval`, `marl-render`, `marl-bench`); policies where scripted policies are named
(`scripted={1: my_bot}`, `marl-eval --against my_bot`); config folders on marl-train's
Hydra search path (hydra_plugins/marl_searchpath). A plugin that fails to load is named in
a warning with its error, and the rest of `marl` works on.
"""

from __future__ import annotations

import functools
import importlib.metadata
import types
import warnings
from collections.abc import Callable

ENVS, POLICIES, CONFIGS = "marl.envs", "marl.policies", "marl.configs"


def entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    """The installed entry points of `group`, sorted by name (a stable order)."""
    return sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)


def _load(ep: importlib.metadata.EntryPoint):
    try:
        return ep.load()
    except Exception as err:  # a broken plugin must not break marl: say which, and why
        warnings.warn(
            f"marl plugin {ep.name!r} ({ep.group} = {ep.value}) failed to load: "
            f"{type(err).__name__}: {err}",
            stacklevel=3,
        )
        return None


@functools.cache
def load_envs() -> tuple[str, ...]:
    """Import (or call) every `marl.envs` entry point once; the names that loaded."""
    loaded = []
    for ep in entry_points(ENVS):
        target = _load(ep)
        if target is None:
            continue
        if callable(target) and not isinstance(target, types.ModuleType):
            try:
                target()
            except Exception as err:
                warnings.warn(
                    f"marl plugin {ep.name!r} ({ep.value}) failed to register: "
                    f"{type(err).__name__}: {err}",
                    stacklevel=2,
                )
                continue
        loaded.append(ep.name)
    return tuple(loaded)


@functools.cache
def policies() -> dict[str, Callable]:
    """name -> factory(env) of every `marl.policies` entry point that loads. A factory
    returns the policy's rule `(key, one agent's obs) -> action`, or raises ValueError
    when the policy means nothing in that env."""
    found = {}
    for ep in entry_points(POLICIES):
        factory = _load(ep)
        if factory is not None:
            found[ep.name] = factory
    return found


def config_packages() -> list[str]:
    """The packages named by `marl.configs` entry points (not imported: Hydra reads them)."""
    return [ep.value for ep in entry_points(CONFIGS)]

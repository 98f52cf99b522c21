"""marl: social-dilemma environments and multi-agent learners in pure JAX."""

# ruff: noqa: E402 (the XLA flags must be set before anything runs a JAX computation)
from importlib import metadata as _metadata

from marl import xla_flags

xla_flags.apply()

from marl.env import Env, checked
from marl.metrics import episode_summary, social_outcomes
from marl.registry import list_envs, make
from marl.wrappers import EpisodeStats, reward_transform

__all__ = [
    "Env",
    "EpisodeStats",
    "checked",
    "episode_summary",
    "list_envs",
    "make",
    "reward_transform",
    "social_outcomes",
]

try:  # one source of truth: the distribution's metadata (pyproject.toml)
    __version__ = _metadata.version("marl-dilemmas")
except _metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

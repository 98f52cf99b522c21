"""marl: social-dilemma environments and multi-agent learners in pure JAX."""

# ruff: noqa: E402 (the XLA flags must be set before anything runs a JAX computation)
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
__version__ = "0.1.0"

"""marl: social-dilemma environments and multi-agent learners in pure JAX."""

from marl.env import Env
from marl.metrics import episode_summary, social_outcomes
from marl.registry import list_envs, make
from marl.wrappers import EpisodeStats, reward_transform

__all__ = [
    "Env",
    "EpisodeStats",
    "episode_summary",
    "list_envs",
    "make",
    "reward_transform",
    "social_outcomes",
]
__version__ = "0.1.0"

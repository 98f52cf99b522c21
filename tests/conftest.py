import os
import tempfile

import jax
import pytest
from hypothesis import settings

# Many tests compile the same programs (the same tiny training config run twice, say);
# a persistent compilation cache shared by the whole session makes the repeats cheap.
# Set through the environment, so the subprocesses that tests start (marl-train commands,
# 2-device and 2-process sweeps) share it too.
os.environ["JAX_COMPILATION_CACHE_DIR"] = os.environ.get(
    "MARL_TEST_JAX_CACHE", os.path.join(tempfile.gettempdir(), "marl-jax-cache")
)
os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0.5"
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

# Property tests draw the same examples on every run: a CI result does not depend on luck
# (a random draw once found a float32 denormal that a tolerance-free assertion rejected).
settings.register_profile("marl", derandomize=True)
settings.load_profile("marl")

# Shapes that keep every registered environment fast enough for a 2-core CI machine, and
# episodes short enough that auto-reset is exercised in a few steps.
SMALL = {
    "spatial_pd": {"size": 5, "episode_length": 3},
    "spgg": {},
    "coin_game": {"episode_length": 3},
    "harvest": {"episode_length": 3},
    "cleanup": {"episode_length": 3},
    "gathering": {"episode_length": 3},
}
MATRIX_SHORT = {"horizon": 3}


def small_overrides(name: str) -> dict:
    return SMALL.get(name, MATRIX_SHORT if name in MATRIX_GAMES else {})


MATRIX_GAMES = ("ipd", "ipd_classic", "stag_hunt", "chicken", "battle_of_sexes", "matching_pennies")


@pytest.fixture
def key():
    return jax.random.key(0)

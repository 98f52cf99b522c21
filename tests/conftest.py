import jax
import pytest

# Shapes that keep every registered environment fast enough for a 2-core CI machine, and
# episodes short enough that auto-reset is exercised in a few steps.
SMALL = {
    "spatial_pd": {"size": 5, "episode_length": 3},
    "spgg": {},
}
MATRIX_SHORT = {"horizon": 3}


def small_overrides(name: str) -> dict:
    return SMALL.get(name, MATRIX_SHORT if name in MATRIX_GAMES else {})


MATRIX_GAMES = ("ipd", "ipd_classic", "stag_hunt", "chicken", "battle_of_sexes", "matching_pennies")


@pytest.fixture
def key():
    return jax.random.key(0)

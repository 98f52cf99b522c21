"""The SPGG equilibrium solver's tie rule (the other solver tests are in tests/envs)."""

import numpy as np
import pytest

import marl
from marl.envs.spgg_solver import solve_spne


@pytest.mark.parametrize(
    "args",
    [
        # classic, r = n: a contribution returns exactly what it costs
        {"reward_mode": "classic", "num_agents": 3, "levels": 10, "r": 3.0},
        # mac without penalty or reciprocity, rho / n = kappa: the same indifference
        {"num_agents": 3, "levels": 3, "kappa": 1.0, "rho": 3.0, "gamma": 0.0, "penalty": 0.0},
        # ... with params that float32 cannot hold exactly (1.8 / 3 vs 0.6 differ by 4e-8)
        {"num_agents": 3, "levels": 10, "kappa": 0.6, "rho": 1.8, "gamma": 0.0, "penalty": 0.0},
    ],
)
def test_an_indifferent_mover_takes_the_lowest_contribution_everywhere(args):
    env, params = marl.make("spgg", **args)
    spne = solve_spne(env, params)
    assert spne.actions == (0, 0, 0) and not spne.unique
    # at every history, not only on the path: float32 rounding picked levels 6 and 8 here
    assert all(np.all(choice == 0) for choice in spne.strategy)

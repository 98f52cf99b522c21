"""The shared environment test kit: every registered environment gets these for free.

The checks themselves are `marl.testing.CHECKS` (so users run them on their own envs);
here each runs on every registered env, at the small sizes of conftest.small_overrides.
"""

import pytest
from conftest import small_overrides

import marl
import marl.testing

ENVS = marl.list_envs()


@pytest.mark.parametrize("check", marl.testing.CHECKS)
@pytest.mark.parametrize("name", ENVS)
def test_env_keeps_the_contract(name, check):
    marl.testing.CHECKS[check](*marl.make(name, **small_overrides(name)))


def test_check_env_runs_every_check_and_refuses_unknown_skips():
    env, params = marl.make("ipd", horizon=5)
    marl.testing.check_env(env, params)
    with pytest.raises(ValueError, match="unknown checks \\['rendr'\\]"):
        marl.testing.check_env(env, params, skip=("rendr",))


class _Leaky(marl.Env):
    """An env that breaks the contract twice: it pays NaN, and never ends an episode
    though it does not say it is continuing."""

    num_agents = 2

    def __init__(self):
        super().__init__()
        self._ipd, self._params = marl.make("ipd")

    @property
    def default_params(self):
        return self._params

    def init_state(self, key, params):
        return self._ipd.init_state(key, params)

    def transition(self, key, state, actions, params):
        state, reward, _, info = self._ipd.transition(key, state, actions, params)
        never = info["truncated"] & False
        info = {**info, "terminated": never, "truncated": never}
        return state, reward * float("nan"), never, info

    def observe(self, state, params):
        return self._ipd.observe(state, params)

    def observation_space(self, params=None):
        return self._ipd.observation_space(params)

    def action_space(self, params=None):
        return self._ipd.action_space(params)


@pytest.mark.parametrize(
    "check, message",
    [("rollout_values", "non-finite rewards"), ("auto_reset", "no episode ended in 40")],
)
def test_a_check_fails_on_an_env_that_breaks_its_rule(check, message):
    env = _Leaky()
    with pytest.raises(AssertionError, match=message):
        marl.testing.CHECKS[check](env, env.default_params)

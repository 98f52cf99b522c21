"""GAE and the PPO loss terms against hand computations."""

import jax.numpy as jnp
import numpy as np
import pytest

from marl.losses import approx_kl, clipped_policy_loss, clipped_value_loss
from marl.returns import gae


def test_gae_matches_a_hand_computation_across_an_episode_end():
    rewards = jnp.array([1.0, 0.0, 2.0])
    values = jnp.array([0.5, 1.0, 0.2])
    dones = jnp.array([False, True, False])  # the episode ends after step 1
    last_value = jnp.asarray(3.0)
    gamma, lam = 0.9, 0.8
    # step 2: delta = 2 + 0.9 * 3 - 0.2 = 4.5; A2 = 4.5
    # step 1: done, so delta = 0 - 1.0 = -1.0 and nothing flows back: A1 = -1.0
    # step 0: delta = 1 + 0.9 * 1.0 - 0.5 = 1.4; A0 = 1.4 + 0.9 * 0.8 * (-1.0) = 0.68
    advantages, returns = gae(rewards, values, dones, last_value, gamma, lam)
    np.testing.assert_allclose(advantages, [0.68, -1.0, 4.5], rtol=1e-6)
    np.testing.assert_allclose(returns, [1.18, 0.0, 4.7], rtol=1e-6)


def test_gae_with_lambda_one_is_the_discounted_return_minus_value():
    rewards = jnp.array([1.0, 2.0, 3.0])
    values = jnp.array([0.1, 0.2, 0.3])
    advantages, returns = gae(rewards, values, jnp.zeros(3, bool), jnp.asarray(0.0), 0.5, 1.0)
    np.testing.assert_allclose(returns, [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3], rtol=1e-6)


def test_gae_broadcasts_episode_ends_over_agents():
    rewards = jnp.ones((2, 3, 4))  # [time, agents, envs]
    values = jnp.zeros((2, 3, 4))
    dones = jnp.zeros((2, 1, 4), bool).at[0, 0, 1].set(True)
    advantages, _ = gae(rewards, values, dones, jnp.ones((3, 4)), 1.0, 1.0)
    np.testing.assert_allclose(advantages[0, :, 1], 1.0)  # cut at the episode end
    np.testing.assert_allclose(advantages[0, :, 0], 3.0)  # 1 + 1 + bootstrap 1


@pytest.mark.parametrize(
    "ratio, advantage, expected",
    [(1.5, 2.0, -2.4), (1.1, 2.0, -2.2), (0.5, -1.0, 0.8), (0.9, -1.0, 0.9), (1.5, -1.0, 1.5)],
)
def test_clipped_policy_loss_takes_the_pessimistic_term(ratio, advantage, expected):
    loss = clipped_policy_loss(jnp.log(ratio), 0.0, advantage, 0.2)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_clipped_value_loss_uses_the_larger_error():
    # value moved from 0 to 1 (clipped to 0.2); target 1: clipped error 0.8 dominates
    assert float(clipped_value_loss(1.0, 0.0, 1.0, 0.2)) == pytest.approx(0.5 * 0.8**2)
    # value moved away from the target: unclipped error dominates
    assert float(clipped_value_loss(-1.0, 0.0, 1.0, 0.2)) == pytest.approx(0.5 * 4.0)


def test_approx_kl_is_zero_at_equal_policies_and_positive_elsewhere():
    assert float(approx_kl(jnp.log(0.3), jnp.log(0.3))) == 0.0
    assert float(approx_kl(jnp.log(0.6), jnp.log(0.3))) > 0.0

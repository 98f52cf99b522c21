"""Return and advantage estimators shared by the algorithms (time axis first)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def gae(rewards, values, dones, last_value, gamma: float, lam: float):
    """Generalised advantage estimation.

    rewards, values: [T, ...]; dones: [T, ...] (broadcastable), true where the episode
    ended at step t, so step t + 1 starts a new one and nothing is bootstrapped across;
    last_value: [...] value of the observation after the last step.
    Returns (advantages, returns = advantages + values), both [T, ...].
    """
    dones = jnp.broadcast_to(dones, rewards.shape).astype(rewards.dtype)

    def backward(carry, step):
        next_value, next_advantage = carry
        reward, value, done = step
        keep = 1.0 - done
        delta = reward + gamma * next_value * keep - value
        advantage = delta + gamma * lam * keep * next_advantage
        return (value, advantage), advantage

    init = (last_value, jnp.zeros_like(last_value))
    _, advantages = jax.lax.scan(backward, init, (rewards, values, dones), reverse=True)
    return advantages, advantages + values

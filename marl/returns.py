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


def n_step_return(rewards, dones, gamma: float):
    """The n-step return from the first of n consecutive steps (time axis first).

    rewards, dones: [n, ...], dones true where the episode ended at that step.
    Returns (return, discount): sum_j gamma^j r_j up to and including the first episode
    end, and the factor for bootstrapping from the observation after the n-th step:
    gamma^n if no episode ended inside the window, else 0.
    """
    n = rewards.shape[0]
    alive = jnp.cumprod(1.0 - dones.astype(rewards.dtype), axis=0)
    still_in = jnp.concatenate([jnp.ones_like(alive[:1]), alive[:-1]], axis=0)
    powers = gamma ** jnp.arange(n, dtype=rewards.dtype).reshape(-1, *([1] * (rewards.ndim - 1)))
    total = (powers * still_in * rewards).sum(0)
    return total, gamma**n * alive[-1]


def n_step_return_cut(rewards, terminated, truncated, gamma: float):
    """`n_step_return` where an episode cut by its time limit is bootstrapped.

    rewards: [n, ...]; terminated, truncated: [n, ...] (broadcastable), how the episode
    ended at each step (a step that is both counts as terminated). Returns (return,
    discount, cut): the return as `n_step_return`'s; `cut` [...] int32, the step whose
    truncation ended the window's episode, or -1. Where cut >= 0, bootstrap from that
    step's final observation with discount gamma^(cut + 1); elsewhere the discount is
    `n_step_return`'s (gamma^n for the observation after the window, 0 after a
    termination).
    """
    terminated = jnp.broadcast_to(terminated, rewards.shape)
    truncated = jnp.broadcast_to(truncated, rewards.shape) & ~terminated
    ends = terminated | truncated
    total, discount = n_step_return(rewards, ends, gamma)
    first = jnp.argmax(ends, axis=0)  # 0 where nothing ended (then unused)
    is_cut = ends.any(0) & jnp.take_along_axis(truncated, first[None], axis=0)[0]
    discount = jnp.where(is_cut, gamma ** (first + 1.0), discount)
    return total, discount, jnp.where(is_cut, first, -1).astype(jnp.int32)

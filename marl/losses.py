"""Loss terms shared by the policy-gradient algorithms, per sample (reduce outside)."""

from __future__ import annotations

import jax.numpy as jnp


def clipped_policy_loss(log_prob, old_log_prob, advantage, clip_eps):
    """PPO's clipped surrogate, negated for minimisation: -min(r A, clip(r) A)."""
    ratio = jnp.exp(log_prob - old_log_prob)
    clipped = jnp.clip(ratio, 1.0 - clip_eps, 1.0 + clip_eps)
    return -jnp.minimum(ratio * advantage, clipped * advantage)


def clipped_value_loss(value, old_value, target, clip_eps):
    """PPO's value loss with the value change clipped to +-clip_eps, times 1/2."""
    clipped = old_value + jnp.clip(value - old_value, -clip_eps, clip_eps)
    return 0.5 * jnp.maximum((value - target) ** 2, (clipped - target) ** 2)


def approx_kl(log_prob, old_log_prob):
    """The k3 estimator of KL(old || new): (r - 1) - log r, r = new / old."""
    log_ratio = log_prob - old_log_prob
    return jnp.exp(log_ratio) - 1.0 - log_ratio

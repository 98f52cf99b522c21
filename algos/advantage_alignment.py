"""Advantage Alignment (Duque et al., ICLR 2025, arXiv 2406.14662): AA and proximal AA.

Opponent shaping without differentiating through the other agents' learning: each agent's
advantage gets a term that raises the probability of actions that help the others when
the interaction has so far gone well for the agent, and lowers it when it has gone badly
(reciprocity). For agent i at step t, with A^j_t the advantages of every agent:

- paper form (two players): A*_t = A^i_t + beta * gamma * S_t * A^j_t,
  S_t = sum_{k<t} gamma^(t-k) A^i_k;
- N-player form (the one used on Melting Pot): A*_t = A^i_t + beta * (1/t) *
  (sum_{k<t} A^i_k) * sum_{j!=i} A^j_t (t = steps since the sums restarted; 0 at t = 0).

With more than two agents the paper form also uses the sum of the others' advantages.
The sums restart at episode starts and at the start of each rollout (a rollout is the
training window, as in the reference implementation): set `num_steps` to the episode
length, or a multiple of it, to align whole episodes.

- `aa`: plain policy gradient, loss -log pi(a_t | s_t) A*_t (one epoch, one minibatch by
  default). `paa`: A* inside PPO's clipped surrogate, PPO's epochs and minibatches.
- Advantages A^i: GAE with a learned critic (`baseline: gae`), or the group-relative
  leave-one-out baseline (`baseline: leave_one_out`, Piche et al. 2025): A^i_t = G^i_t
  minus the mean of G^i_t over the other parallel envs of the batch, G the discounted
  return to go inside the rollout (no bootstrap, so again best with whole episodes per
  rollout). No critic is trained then.
- The base advantages are whitened over the whole batch (the learning agents' samples)
  before alignment, as the alignment needs them on a common scale; A* is not re-whitened.

Everything else (parameter banks, scripted slots, MAPPO critic, GRU/CNN networks, time
limits) is PPO's: `AdvantageAlignment` subclasses `PPO` and overrides its estimator hooks.
With beta = 0, `paa` is PPO (advantages whitened per batch rather than per minibatch)
and `aa` is the policy gradient that PPO's first step takes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from marl.algos.ppo import PPO, PPOConfig, Rollout, whiten
from marl.algos.ppo import SWEEPABLE as SWEEPABLE_PPO
from marl.config import fail
from marl.returns import gae

FORMS = ("auto", "paper", "n_player")
BASELINES = ("gae", "leave_one_out")


@dataclass(frozen=True)
class AAConfig(PPOConfig):
    name: str = "aa"  # aa: policy gradient | paa: PPO's clipped objective
    update_epochs: int = 1
    num_minibatches: int = 1
    beta: float = 1.0  # alignment weight: beta (paper form) or w (N-player form)
    form: str = "auto"  # auto: paper for two agents, n_player otherwise | paper | n_player
    baseline: str = "gae"  # gae (critic) | leave_one_out (group-relative, no critic)

    def check(self, path):
        super().check(path)
        if self.name not in ("aa", "paa"):
            fail(f"{path}.name", self.name, "aa or paa")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            fail(f"{path}.beta", self.beta, "a finite number >= 0")
        if self.form not in FORMS:
            fail(f"{path}.form", self.form, " | ".join(FORMS))
        if self.baseline not in BASELINES:
            fail(f"{path}.baseline", self.baseline, " | ".join(BASELINES))
        if self.baseline == "leave_one_out":
            if self.num_envs < 2:
                fail(f"{path}.num_envs", self.num_envs, ">= 2 for the leave-one-out baseline")
            if self.bootstrap_truncated:
                fail(f"{path}.bootstrap_truncated", True, "false: leave_one_out has no critic")


# ---- pure pieces ---------------------------------------------------------------------------
def others_sum(advantages, axis: int = 1):
    """sum_{j != i} A^j for every agent i along `axis`."""
    return advantages.sum(axis, keepdims=True) - advantages


def aligned_advantages(own, others, resets, beta: float, gamma: float, form: str):
    """A* for every step (time axis first).

    own: A^i_t [T, ...]; others: the co-players' advantage at the same step [T, ...] (A^2
    for two players, sum_{j!=i} A^j for N); resets: bool [T, ...] (broadcastable), true
    where step t starts an episode, so the sums over past steps restart there; step 0
    always starts them. form: "paper" or "n_player" (see the module docstring).
    """
    if form not in ("paper", "n_player"):
        raise ValueError(f"form must be paper or n_player, got {form!r}")
    resets = jnp.broadcast_to(resets, own.shape)

    def forward(carry, step):
        past, count = carry  # paper: sum gamma^(t-k) A_k; n_player: sum A_k, and t
        advantage, reset = step
        past = jnp.where(reset, 0.0, past)
        count = jnp.where(reset, 0.0, count)
        if form == "paper":
            history = gamma * past
            past = gamma * (past + advantage)
        else:
            history = past / jnp.maximum(count, 1.0)
            past = past + advantage
        return (past, count + 1.0), history

    zeros = jnp.zeros_like(own[0])
    _, history = jax.lax.scan(forward, (zeros, zeros), (own, resets))
    return own + beta * history * others


def discounted_returns(rewards, dones, gamma: float):
    """G_t = r_t + gamma G_{t+1} inside each episode (dones: the episode ended at step t),
    with G = 0 after the last step: no bootstrap."""
    zeros = jnp.zeros_like(rewards)
    returns, _ = gae(rewards, zeros, dones, zeros[0], gamma, 1.0)
    return returns


def leave_one_out(returns, axis: int):
    """G minus the mean of G over the OTHER members of the group along `axis`."""
    n = returns.shape[axis]
    if n < 2:
        raise ValueError(f"the leave-one-out baseline needs a group of >= 2, got {n}")
    others = returns.sum(axis, keepdims=True) - returns
    return returns - others / (n - 1)


def policy_gradient_loss(log_p, advantages):
    """The plain score-function (REINFORCE) loss per sample: -log pi(a) A."""
    return -log_p * jax.lax.stop_gradient(advantages)


# ---- the trainer ---------------------------------------------------------------------------
class AdvantageAlignment(PPO):
    """AA / PAA: PPO's rollout and networks with the aligned advantage."""

    def __init__(self, config: AAConfig, env, env_params, scripted=None, total_steps=0):
        super().__init__(config, env, env_params, scripted, total_steps)
        self.proximal = config.name == "paa"
        if config.form == "auto":
            self.form = "paper" if env.num_agents == 2 else "n_player"
        else:
            self.form = config.form

    def advantages(self, rollout: Rollout, last_value):
        c = self.config
        if c.baseline == "gae":
            base, targets = super().advantages(rollout, last_value)
        else:
            returns = discounted_returns(rollout.rewards, rollout.dones[:, None, :], c.gamma)
            base = leave_one_out(returns, axis=2)  # [T, A, E]: the group is the envs
            targets = rollout.values  # unused: there is no critic to fit
        learns = self.learns(rollout.coplayer_slot)
        learning_coplayers = (rollout.coplayer_slot < 0)[:, None, :]
        if self.mixing:
            # Whitened apart: a critic that cannot tell whether a pool co-player is present
            # is biased in opposite directions in the two groups, and the sum of past
            # advantages would pile that bias up.
            among_learners = whiten(base, learns * learning_coplayers)
            beside_pool = whiten(base, learns * ~learning_coplayers)
            base = jnp.where(learning_coplayers, among_learners, beside_pool)
        else:
            base = whiten(base, learns)
        resets = rollout.resets[:, None, :]
        # No alignment in an episode with a pool co-player: a scripted policy or a frozen
        # past copy does not learn, so there is nothing to shape; there the learner takes
        # the plain advantage.
        others = others_sum(base, axis=1)
        if self.mixing:
            others = others * learning_coplayers
        aligned = aligned_advantages(base, others, resets, c.beta, c.gamma, self.form)
        return aligned, targets

    def minibatch_advantages(self, advantages, learns):
        return advantages  # whitened per batch, before alignment

    def policy_loss(self, log_p, old_log_p, advantages):
        if self.proximal:
            return super().policy_loss(log_p, old_log_p, advantages)
        return policy_gradient_loss(log_p, advantages)

    def value_loss(self, values, old_values, targets):
        if self.config.baseline == "leave_one_out":
            return jnp.zeros_like(values)
        return super().value_loss(values, old_values, targets)

    def action_probabilities(self, state, obs):
        """pi(. | obs) of a feed-forward policy: obs [A, B, *obs_shape] agent-major
        (agent i's own view) -> probabilities [A, B, num_actions]."""
        if self.config.network.gru:
            raise ValueError("action_probabilities needs a feed-forward policy (network.gru=0)")
        batch = obs.shape[:2]
        hidden = jnp.zeros((*batch, 1), jnp.float32)
        _, logits = self._apply(
            self.actor,
            state.params["actor"],
            hidden,
            self._network_input(obs),
            self._extra(batch[1:], False),
            jnp.zeros(batch, bool),
        )
        return jax.nn.softmax(logits, axis=-1)


# Numeric settings a sweep may vary inside one compiled program (`sweep.algo.<key>`):
# the trainer reads them as traced values, never in a Python branch or a shape.
SWEEPABLE = (*SWEEPABLE_PPO, "beta")
CONFIG, TRAINER = AAConfig, AdvantageAlignment

"""Exact-gradient learners on the 2x2 matrix games: naive learners and LOLA.

Each agent's policy is 5 logits (memory-1: P(C) in start, CC, CD, DC, DD, own action
first), theta ~ N(0, init_std^2). Values are exact (`marl.envs.matrix.exact_values`),
with gradients taken on the discounted sum V_i = (average reward per step) / (1 - gamma),
as in Foerster et al. 2018; the metrics report the average reward per step.

- naive:  theta_i += lr * grad_i V_i
- LOLA (first order, as published):
  theta_1 += lr * [grad_1 V_1 + correction * grad_1( stopgrad(grad_2 V_1) . grad_2 V_2 )],
  symmetrically for agent 2.

`num_runs` independent pairs are vmapped inside one update; the driver vmaps seeds on top.
One update is one simultaneous step of both agents, and counts as one "env step".
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import struct

from marl.config import fail
from marl.envs.matrix import MatrixGame, exact_values, memory1_visits
from marl.policy import Policy, stateless

STATES = ("start", "CC", "CD", "DC", "DD")
LEARNERS = ("naive", "lola")


@dataclass(frozen=True)
class LOLAConfig:
    name: str = "lola"
    learners: tuple[str, ...] = ("lola", "lola")  # one per agent: naive | lola
    lr: float = 1.0  # delta
    correction: float = 1.0  # eta, LOLA's shaping weight
    gamma: float = 0.96
    num_runs: int = 50
    init_std: float = 1.0

    def check(self, path):
        if len(self.learners) != 2 or any(k not in LEARNERS for k in self.learners):
            fail(f"{path}.learners", list(self.learners), "two of naive, lola (one per agent)")
        if not 0.0 <= self.gamma < 1.0:
            fail(f"{path}.gamma", self.gamma, "a number in [0, 1)")
        if self.num_runs < 1:
            fail(f"{path}.num_runs", self.num_runs, "an integer >= 1")
        for key in ("lr", "init_std"):
            if getattr(self, key) <= 0:
                fail(f"{path}.{key}", getattr(self, key), "a number > 0")
        if self.correction < 0:
            fail(f"{path}.correction", self.correction, "a number >= 0")


@struct.dataclass
class LOLAState:
    theta: jax.Array  # float32[num_runs, 2, 5]
    key: jax.Array


def lola_step(theta1, theta2, payoff, gamma, lr, correction, learners=("lola", "lola")):
    """One simultaneous exact update of both agents; returns the new (theta1, theta2)."""
    scale = 1.0 / (1.0 - gamma)  # gradients of the discounted sum, as in LOLA
    v1 = lambda a, b: scale * exact_values(a, b, payoff, gamma)[0]
    v2 = lambda a, b: scale * exact_values(a, b, payoff, gamma)[1]
    grad1 = jax.grad(v1, 0)(theta1, theta2)
    grad2 = jax.grad(v2, 1)(theta1, theta2)
    if learners[0] == "lola":
        # How agent 1's parameters move agent 2's naive step, weighted by what that step
        # is worth to agent 1.
        their_effect = jax.lax.stop_gradient(jax.grad(v1, 1)(theta1, theta2))
        shaping = lambda a: jnp.dot(their_effect, jax.grad(v2, 1)(a, theta2))
        grad1 = grad1 + correction * jax.grad(shaping)(theta1)
    if learners[1] == "lola":
        their_effect = jax.lax.stop_gradient(jax.grad(v2, 0)(theta1, theta2))
        shaping = lambda b: jnp.dot(their_effect, jax.grad(v1, 0)(theta1, b))
        grad2 = grad2 + correction * jax.grad(shaping)(theta2)
    return theta1 + lr * grad1, theta2 + lr * grad2


class LOLA:
    def __init__(self, config: LOLAConfig, env, env_params, scripted=None, total_steps: int = 0):
        if not isinstance(getattr(env, "unwrapped", env), MatrixGame):
            fail("env.name", env.name, "a matrix game (exact values); LOLA-DiCE is for others")
        if scripted:
            fail("scripted", dict(scripted), "{} (exact learners have no scripted slots)")
        self.config = config
        self.env_params = env_params
        self.payoff = env_params.payoff
        self.steps_per_update = 1  # one exact update of every run counts as one step

    def init(self, key) -> LOLAState:
        key_theta, key_run = jax.random.split(key)
        theta = self.config.init_std * jax.random.normal(key_theta, (self.config.num_runs, 2, 5))
        return LOLAState(theta=theta, key=key_run)

    def update(self, state: LOLAState):
        c = self.config
        step = lambda t: jnp.stack(
            lola_step(t[0], t[1], self.payoff, c.gamma, c.lr, c.correction, c.learners)
        )
        theta = jax.vmap(step)(state.theta)
        return state.replace(theta=theta), self.metrics(theta)

    def metrics(self, theta) -> dict:
        c = self.config
        probs = jax.nn.sigmoid(theta)  # [runs, 2, 5]
        values = jax.vmap(lambda t: exact_values(t[0], t[1], self.payoff, c.gamma))(theta)
        visits = jax.vmap(lambda p: memory1_visits(p[0], p[1], c.gamma))(probs)  # CC CD DC DD
        cooperation = jnp.stack([visits[:, 0] + visits[:, 1], visits[:, 0] + visits[:, 2]], 1)
        out = {"reward_mean": values.mean(), "cooperation_rate": cooperation.mean()}
        for agent in range(2):
            out[f"agent{agent}/reward_per_step"] = values[:, agent].mean()
            out[f"agent{agent}/cooperation_rate"] = cooperation[:, agent].mean()
            for s, name in enumerate(STATES):
                out[f"agent{agent}/p_cooperate_{name}"] = probs[:, agent, s].mean()
        return out

    def policy(self, state: LOLAState, run: int = 0) -> Policy:
        """Run `run`'s memory-1 policies (one-hot observations over start, CC, CD, DC, DD)."""

        def act(key, obs):
            p_cooperate = (obs * jax.nn.sigmoid(state.theta[run])).sum(-1)
            return (jax.random.uniform(key, (2,)) >= p_cooperate).astype(jnp.int32)

        return stateless(act)


# Numeric settings a sweep may vary inside one compiled program (`sweep.algo.<key>`):
# the trainer reads them as traced values, never in a Python branch or a shape.
SWEEPABLE = ("lr", "correction", "gamma", "init_std")
CONFIG, TRAINER = LOLAConfig, LOLA

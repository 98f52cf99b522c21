"""LOLA-DiCE: opponent shaping from sampled episodes (Foerster et al. 2018, "DiCE: The
Infinitely Differentiable Monte Carlo Estimator"), for two-player games without an exact
value (Coin Game; the IPD from samples).

Each agent i has a policy network theta_i and a value network (the baseline). One update:
1. Play `num_envs` fresh episodes of `rollout_length` steps with the current policies
   (the metrics and the value targets come from these).
2. A `lola_dice` agent i looks ahead: starting from the opponent's theta_j it takes
   `lookahead` simulated policy-gradient steps theta_j += inner_lr * grad_j L_j, each on
   episodes sampled with the current pair (the first on the episodes of 1), and keeps
   them differentiable in theta_i. It then samples episodes against the looked-ahead
   opponent and ascends d L_i / d theta_i through the opponent's steps (Adam, outer_lr).
   A `naive` agent ascends grad_i L_i on the episodes of 1.
3. Both agents update simultaneously; the value networks regress the discounted returns.

L_i is the DiCE objective: sum_t magic(sum_{k<=t} log pi_1(a1_k) + log pi_2(a2_k)) *
gamma^t r^i_t, plus the baseline term sum_t (1 - magic(log pi_1(a1_t) + log pi_2(a2_t))) *
gamma^t V_i(s_t), averaged over episodes; magic(x) = exp(x - stopgrad(x)). Its value is
the mean discounted return, its gradients of any order are unbiased, and the baseline
changes their variance, not their mean. Episodes restart the sums (auto-reset safe).

`steps_per_update` counts the env steps of 1 only (the simulated episodes are extra).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from marl.config import fail
from marl.metrics import episode_metric_sums, step_rates
from marl.networks import Head, NetworkConfig
from marl.policy import Policy, stateless

LEARNERS = ("naive", "lola_dice")
OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam}


@dataclass(frozen=True)
class LOLADiCEConfig:
    name: str = "lola_dice"
    learners: tuple[str, ...] = ("lola_dice", "lola_dice")  # per agent: naive | lola_dice
    lookahead: int = 1  # simulated opponent steps
    inner_lr: float = 0.3
    outer_lr: float = 0.2
    value_lr: float = 0.1
    gamma: float = 0.96
    num_envs: int = 128  # episodes per batch
    rollout_length: int = 150  # steps per batch (an episode when it equals the horizon)
    baseline: bool = True
    optimizer: str = "adam"  # outer policy step: adam | sgd
    network: NetworkConfig = field(default_factory=lambda: NetworkConfig(hidden=()))

    def check(self, path):
        if len(self.learners) != 2 or any(k not in LEARNERS for k in self.learners):
            fail(f"{path}.learners", list(self.learners), "two of naive, lola_dice")
        if not 0.0 <= self.gamma <= 1.0:
            fail(f"{path}.gamma", self.gamma, "a number in [0, 1]")
        for key in ("lookahead", "num_envs", "rollout_length"):
            if getattr(self, key) < 1:
                fail(f"{path}.{key}", getattr(self, key), "an integer >= 1")
        for key in ("inner_lr", "outer_lr", "value_lr"):
            if getattr(self, key) <= 0:
                fail(f"{path}.{key}", getattr(self, key), "a number > 0")
        if self.optimizer not in OPTIMIZERS:
            fail(f"{path}.optimizer", self.optimizer, " or ".join(OPTIMIZERS))
        if self.network.gru:
            fail(f"{path}.network.gru", self.network.gru, "0 (feed-forward policies only)")


def magic_box(x: jax.Array) -> jax.Array:
    """1 in value, d/dx = itself: DiCE's operator."""
    return jnp.exp(x - jax.lax.stop_gradient(x))


def episode_sums(first: jax.Array, logp: jax.Array, gamma: float):
    """Per step [T, B]: the sum of `logp` since the episode started, and gamma^(t - start)."""

    def step(carry, x):
        deps, discount = carry
        log_p, is_first = x
        deps = jnp.where(is_first, 0.0, deps) + log_p
        discount = jnp.where(is_first, 1.0, discount * gamma)
        return (deps, discount), (deps, discount)

    start = (jnp.zeros_like(logp[0]), jnp.ones_like(logp[0]))
    _, (deps, discount) = jax.lax.scan(step, start, (logp, first))
    return deps, discount


def dice_objective(logp_self, logp_other, rewards, values, first, gamma: float) -> jax.Array:
    """DiCE surrogate of the mean discounted return, with a baseline; inputs are [T, B]."""
    stochastic = logp_self + logp_other
    deps, discount = episode_sums(first, stochastic, gamma)
    episodes = jnp.maximum(first.sum(), 1)  # returns are per episode, as in the papers
    objective = (magic_box(deps) * discount * rewards).sum() / episodes
    baseline = ((1.0 - magic_box(stochastic)) * discount * values).sum() / episodes
    return objective + baseline


def discounted_returns(rewards, first, gamma: float) -> jax.Array:
    """Reward-to-go within each episode of a [T, B] batch (no bootstrap past its end)."""

    def step(later, x):
        reward, next_first = x
        ret = reward + gamma * jnp.where(next_first, 0.0, later)
        return ret, ret

    next_first = jnp.concatenate([first[1:], jnp.ones_like(first[:1])])
    _, out = jax.lax.scan(step, jnp.zeros_like(rewards[0]), (rewards, next_first), reverse=True)
    return out


@struct.dataclass
class Batch:
    obs: jax.Array  # [T, B, A, *obs]
    actions: jax.Array  # [T, B, A]
    rewards: jax.Array  # [T, B, A]
    first: jax.Array  # [T, B]: the step opens an episode


@struct.dataclass
class LOLADiCEState:
    policy: tuple  # (theta_0, theta_1)
    value: tuple  # (phi_0, phi_1)
    policy_opt: tuple
    value_opt: tuple
    key: jax.Array


class LOLADiCE:
    def __init__(self, config: LOLADiCEConfig, env, env_params, scripted=None, total_steps=0):
        if env.num_agents != 2:
            fail("env.name", env.name, "a two-player game (LOLA-DiCE shapes one opponent)")
        if scripted:
            fail("scripted", dict(scripted), "{} (both LOLA-DiCE players learn)")
        self.config, self.env, self.env_params = config, env, env_params
        self.num_actions = env.action_space(env_params).n
        self.actor = Head(config.network, self.num_actions, 0.01)
        self.critic = Head(config.network, 1, 1.0)
        self.policy_tx = OPTIMIZERS[config.optimizer](config.outer_lr)
        self.value_tx = optax.adam(config.value_lr)
        self.steps_per_update = config.num_envs * config.rollout_length
        self.learner = np.ones(2, bool)  # both slots learn (marl-eval reads this)

    # ---- networks --------------------------------------------------------------------------
    def _input(self, obs):
        if self.config.network.torso == "mlp":
            return obs.reshape(*obs.shape[: obs.ndim - len(self.obs_shape)], -1)
        return obs

    @property
    def obs_shape(self):
        return self.env.observation_space(self.env_params).shape

    def _apply(self, net, params, obs):
        _, out = net.apply(params, None, self._input(obs), None, None)
        return out

    def log_probs(self, theta, obs, actions) -> jax.Array:
        """log pi(actions | obs) for one agent's [T, B] steps; differentiable in theta."""
        logits = self._apply(self.actor, theta, obs)
        return jnp.take_along_axis(jax.nn.log_softmax(logits), actions[..., None], -1)[..., 0]

    # ---- sampling --------------------------------------------------------------------------
    def sample(self, key, thetas) -> tuple[Batch, dict]:
        """Fresh episodes played by `thetas` (not differentiated: only the log-probs are)."""
        c = self.config
        thetas = jax.lax.stop_gradient(thetas)
        key_reset, key_steps = jax.random.split(key)
        reset = jax.vmap(self.env.reset, (0, None))
        obs, env_state = reset(jax.random.split(key_reset, c.num_envs), self.env_params)
        step_env = jax.vmap(self.env.step, (0, 0, 0, None))

        def one_step(carry, key):
            obs, env_state, first = carry
            key_act, key_env = jax.random.split(key)
            logits = jnp.stack([self._apply(self.actor, thetas[i], obs[:, i]) for i in range(2)], 1)
            actions = distrax.Categorical(logits=logits).sample(seed=key_act).astype(jnp.int32)
            env_keys = jax.random.split(key_env, c.num_envs)
            next_obs, env_state, rewards, done, info = step_env(
                env_keys, env_state, actions, self.env_params
            )
            return (next_obs, env_state, done), (Batch(obs, actions, rewards, first), info)

        start = (obs, env_state, jnp.ones(c.num_envs, bool))
        _, (batch, info) = jax.lax.scan(
            one_step, start, jax.random.split(key_steps, c.rollout_length)
        )
        return batch, info

    # ---- objectives ------------------------------------------------------------------------
    def objective(self, agent: int, thetas, values, batch: Batch) -> jax.Array:
        """Agent `agent`'s DiCE objective on `batch`, differentiable in both thetas."""
        logp = [
            self.log_probs(thetas[i], batch.obs[:, :, i], batch.actions[:, :, i]) for i in (0, 1)
        ]
        baseline = values[agent] if self.config.baseline else jnp.zeros_like(logp[0])
        return dice_objective(
            logp[agent],
            logp[1 - agent],
            batch.rewards[..., agent],
            jax.lax.stop_gradient(baseline),
            batch.first,
            self.config.gamma,
        )

    def _values(self, phis, obs):
        """Baselines [agent][T, B] of a batch's observations."""
        return [self._apply(self.critic, phis[i], obs[:, :, i])[..., 0] for i in (0, 1)]

    def shaped_gradient(self, agent: int, key, thetas, phis, played: Batch):
        """d L_agent / d theta_agent, through `lookahead` simulated steps of the opponent
        (or the plain DiCE policy gradient for a naive agent)."""
        c = self.config
        other = 1 - agent
        naive = c.learners[agent] == "naive"

        def shaped(theta_self):
            pair = [None, None]
            pair[agent], pair[other] = theta_self, thetas[other]
            batch = played
            for step in range(0 if naive else c.lookahead):
                if step:
                    batch, _ = self.sample(jax.random.fold_in(key, step), tuple(pair))
                values = self._values(phis, batch.obs)
                their_objective = lambda th, pair=tuple(pair), values=values, batch=batch: (
                    self.objective(other, _with(pair, other, th), values, batch)
                )
                opponent_grad = jax.grad(their_objective)(pair[other])
                pair[other] = jax.tree.map(
                    lambda p, g: p + c.inner_lr * g, pair[other], opponent_grad
                )
            if not naive:  # play against the opponent it expects
                batch, _ = self.sample(jax.random.fold_in(key, c.lookahead), tuple(pair))
            return self.objective(agent, tuple(pair), self._values(phis, batch.obs), batch)

        return jax.grad(shaped)(thetas[agent])

    # ---- trainer API -----------------------------------------------------------------------
    def init(self, key) -> LOLADiCEState:
        keys = jax.random.split(key, 5)
        obs = jnp.zeros((1, *self.obs_shape), jnp.float32)
        init = lambda net, k: net.init(k, None, self._input(obs), None, None)
        policy = (init(self.actor, keys[0]), init(self.actor, keys[1]))
        value = (init(self.critic, keys[2]), init(self.critic, keys[3]))
        return LOLADiCEState(
            policy=policy,
            value=value,
            policy_opt=tuple(self.policy_tx.init(p) for p in policy),
            value_opt=tuple(self.value_tx.init(v) for v in value),
            key=keys[4],
        )

    def update(self, state: LOLADiCEState):
        c = self.config
        key, key_play, key_0, key_1 = jax.random.split(state.key, 4)
        played, info = self.sample(key_play, state.policy)
        grads = [
            self.shaped_gradient(i, k, state.policy, state.value, played)
            for i, k in ((0, key_0), (1, key_1))
        ]
        policy, policy_opt = [], []
        for i in (0, 1):
            ascent = jax.tree.map(jnp.negative, grads[i])
            updates, opt = self.policy_tx.update(ascent, state.policy_opt[i], state.policy[i])
            policy.append(optax.apply_updates(state.policy[i], updates))
            policy_opt.append(opt)

        value, value_opt, value_loss = [], [], []
        for i in (0, 1):
            target = discounted_returns(played.rewards[..., i], played.first, c.gamma)
            loss = lambda phi, i=i, target=target: jnp.mean(
                (self._apply(self.critic, phi, played.obs[:, :, i])[..., 0] - target) ** 2
            )
            loss_value, grad = jax.value_and_grad(loss)(state.value[i])
            updates, opt = self.value_tx.update(grad, state.value_opt[i], state.value[i])
            value.append(optax.apply_updates(state.value[i], updates))
            value_opt.append(opt)
            value_loss.append(loss_value)

        state = state.replace(
            policy=tuple(policy),
            value=tuple(value),
            policy_opt=tuple(policy_opt),
            value_opt=tuple(value_opt),
            key=key,
        )
        metrics = {"reward_mean": played.rewards.mean(), "loss/value": jnp.stack(value_loss).mean()}
        for i in (0, 1):
            metrics[f"agent{i}/reward_per_step"] = played.rewards[..., i].mean()
            metrics[f"agent{i}/grad_norm"] = _global_norm(grads[i])
        metrics.update(episode_metric_sums(self.env, info))
        metrics.update(step_rates(self.env, info))
        return state, metrics

    def policy(self, state: LOLADiCEState) -> Policy:
        """Both agents sample from their trained policies (one env)."""

        def act(key, obs):
            logits = jnp.stack([self._apply(self.actor, state.policy[i], obs[i]) for i in (0, 1)])
            return distrax.Categorical(logits=logits).sample(seed=key).astype(jnp.int32)

        return stateless(act)


def _with(pair: list, index: int, value) -> tuple:
    out = list(pair)
    out[index] = value
    return tuple(out)


def _global_norm(tree) -> jax.Array:
    """The L2 norm of all leaves together (optax.global_norm is deprecated, and its
    successor optax.tree.norm is missing from older optax releases)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


# Numeric settings a sweep may vary inside one compiled program (`sweep.algo.<key>`):
# the trainer reads them as traced values, never in a Python branch or a shape.
SWEEPABLE = ("inner_lr", "outer_lr", "value_lr", "gamma")
CONFIG, TRAINER = LOLADiCEConfig, LOLADiCE

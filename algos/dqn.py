"""Double DQN for many agents, with shared, grouped or independent Q-networks.

One update = `num_steps` time steps in each of `num_envs` environments (vmapped), every
agent acting by epsilon-greedy or Boltzmann exploration on its bank's Q-values, each step
adding every agent's n-step transition to a replay ring in JAX, then `gradient_steps`
double-DQN steps (once `learning_starts` time steps have passed).

- Parameter banks as in PPO (`shared`, `independent`, `groups:K`): bank b is trained
  only on transitions of its own learning agents, with its own optimiser state; scripted
  slots act by their rule and are never sampled for learning.
- Targets: y = R^(n) + gamma^n (1 - done) Q_target(s', argmax_a Q_online(s', a)); Huber
  loss. Target network: a hard copy every `target_every` time steps, or Polyak averaging
  with `polyak` < 1 after every gradient step.
- Schedules (exploration, learning_starts, target_every) count time steps, i.e. steps
  of each environment, so they do not change with `num_envs`.
- A time limit is treated as terminal (no bootstrap across truncation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from marl.config import build, fail
from marl.metrics import episode_metric_sums, step_rates
from marl.networks import Head, NetworkConfig
from marl.policy import Policy, stateless
from marl.replay import Ring, ring_add, ring_init, ring_sample_slots
from marl.returns import n_step_return
from marl.scripted import override_scripted
from marl.sharing import agent_banks, apply_per_agent, bank_members, parse_sharing


@dataclass(frozen=True)
class DQNConfig:
    name: str = "dqn"
    num_envs: int = 8
    num_steps: int = 4  # time steps per update (per env)
    gradient_steps: int = 1  # gradient steps per update
    buffer_size: int = 50_000  # transitions (every agent's step is one)
    batch_size: int = 128  # transitions per bank per gradient step
    learning_starts: int = 200  # time steps before the first gradient step
    n_step: int = 3
    gamma: float = 0.99
    lr: float = 1e-3
    weight_decay: float = 0.0  # > 0 uses AdamW
    max_grad_norm: float = 10.0
    target_every: int = 500  # time steps between hard target copies (polyak = 1)
    polyak: float = 1.0  # < 1: soft target update after each gradient step
    exploration: str = "epsilon"  # epsilon | boltzmann
    explore_start: float = 1.0  # epsilon or temperature at the start
    explore_end: float = 0.05
    explore_steps: int = 5_000  # time steps of the linear schedule
    learning_stops: int = 0  # time step after which learning stops (evaluation); 0 = never
    sharing: str = "shared"
    network: NetworkConfig = field(default_factory=NetworkConfig)

    def check(self, path):
        for key in (
            "num_envs",
            "num_steps",
            "gradient_steps",
            "buffer_size",
            "batch_size",
            "n_step",
            "target_every",
            "explore_steps",
        ):
            if getattr(self, key) < 1:
                fail(f"{path}.{key}", getattr(self, key), "an integer >= 1")
        if self.learning_stops < 0:
            fail(f"{path}.learning_stops", self.learning_stops, "an integer >= 0 (0 = never)")
        if self.learning_starts < 0:
            fail(f"{path}.learning_starts", self.learning_starts, "an integer >= 0")
        if not 0.0 <= self.gamma <= 1.0:
            fail(f"{path}.gamma", self.gamma, "a number in [0, 1]")
        if not 0.0 < self.polyak <= 1.0:
            fail(f"{path}.polyak", self.polyak, "a number in (0, 1]")
        for key in ("lr", "max_grad_norm"):
            if getattr(self, key) <= 0:
                fail(f"{path}.{key}", getattr(self, key), "a number > 0")
        if self.weight_decay < 0:
            fail(f"{path}.weight_decay", self.weight_decay, "a number >= 0")
        if self.exploration not in ("epsilon", "boltzmann"):
            fail(f"{path}.exploration", self.exploration, "epsilon or boltzmann")
        low = 0.0 if self.exploration == "epsilon" else 1e-6
        high = 1.0 if self.exploration == "epsilon" else float("inf")
        for key in ("explore_start", "explore_end"):
            if not low <= getattr(self, key) <= high:
                fail(f"{path}.{key}", getattr(self, key), f"a number in [{low}, {high}]")
        if self.network.gru:
            fail(f"{path}.network.gru", self.network.gru, "0 (DQN has no recurrent policy)")
        parse_sharing(self.sharing, path)


@struct.dataclass
class DQNState:
    params: object  # leading bank axis
    target_params: object
    opt_state: object
    env_state: object  # [E]
    obs: jax.Array  # [E, A, *obs]
    window: dict  # the last n steps: obs, actions, rewards [n, E, A(, ...)], dones [n, E]
    replay: Ring  # items: one time step of every env and agent
    key: jax.Array
    time: jax.Array  # int32[], time steps taken (per env)


def explore_value(config: DQNConfig, time) -> jax.Array:
    """The linear schedule's epsilon or temperature after `time` time steps."""
    frac = jnp.minimum(time / config.explore_steps, 1.0)
    return config.explore_start + (config.explore_end - config.explore_start) * frac


def select_actions(key, q, config: DQNConfig, value):
    """Epsilon-greedy or Boltzmann actions from Q-values [..., n_actions]."""
    key_coin, key_random = jax.random.split(key)
    if config.exploration == "boltzmann":
        return jax.random.categorical(key_random, q / value).astype(jnp.int32)
    greedy = jnp.argmax(q, -1)
    uniform = jax.random.randint(key_random, greedy.shape, 0, q.shape[-1])
    explore = jax.random.uniform(key_coin, greedy.shape) < value
    return jnp.where(explore, uniform, greedy).astype(jnp.int32)


def double_dqn_targets(ret, discount, q_next_online, q_next_target):
    """y = R + discount * Q_target(s', argmax_a Q_online(s', a))."""
    best = jnp.argmax(q_next_online, -1)
    return ret + discount * jnp.take_along_axis(q_next_target, best[..., None], -1)[..., 0]


class DQN:
    def __init__(self, config: DQNConfig, env, env_params, scripted=None, total_steps: int = 0):
        self.config = config
        self.env = env
        self.env_params = env_params
        self.num_agents = env.num_agents
        self.bank_of, self.num_banks, self.scripted, self.learner = agent_banks(
            config.sharing, env, scripted
        )
        self.members, self.member_counts = bank_members(self.bank_of, self.learner)
        self.obs_shape = tuple(env.observation_space(env_params).shape)
        if config.network.torso == "cnn" and len(self.obs_shape) != 3:
            fail("algo.network.torso", "cnn", f"grid observations [H, W, C]; got {self.obs_shape}")
        self.num_actions = env.action_space(env_params).n
        self.steps_per_update = config.num_envs * config.num_steps
        self.slots = config.buffer_size // (config.num_envs * self.num_agents)
        if self.slots < 1:
            fail(
                "algo.buffer_size",
                config.buffer_size,
                f">= num_envs * num_agents = {config.num_envs * self.num_agents}",
            )
        self.q = Head(config.network, self.num_actions, 1.0)
        adam = (
            optax.adamw(config.lr, weight_decay=config.weight_decay)
            if config.weight_decay > 0
            else optax.adam(config.lr)
        )
        self.tx = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)

    # ---- networks ------------------------------------------------------------------------
    def _flat(self, obs):
        if self.config.network.torso == "mlp":
            return obs.reshape(*obs.shape[: obs.ndim - len(self.obs_shape)], -1)
        return obs

    def _q_single(self, params, obs):
        """Q-values of one bank for a batch of observations [..., *obs_shape]."""
        dummy = jnp.zeros((*obs.shape[: obs.ndim - len(self.obs_shape)], 1))
        return self.q.apply(params, dummy, self._flat(obs), None, None)[1]

    def _q_agents(self, params, obs_am):
        """Q-values [A, E, n_actions] for agent-major observations [A, E, *obs]."""
        return apply_per_agent(self._q_single, params, self.bank_of, obs_am)

    # ---- trainer API ---------------------------------------------------------------------
    def init(self, key) -> DQNState:
        c = self.config
        key_env, key_net, key_run = jax.random.split(key, 3)
        obs, env_state = jax.vmap(self.env.reset, (0, None))(
            jax.random.split(key_env, c.num_envs), self.env_params
        )
        example = self._flat(obs[0, :1])
        dummy = jnp.zeros((1, 1))
        params = jax.vmap(lambda k: self.q.init(k, dummy, example, None, None))(
            jax.random.split(key_net, self.num_banks)
        )
        e, a = c.num_envs, self.num_agents
        window = {
            "obs": jnp.zeros((c.n_step, *obs.shape), obs.dtype),
            "actions": jnp.zeros((c.n_step, e, a), jnp.int32),
            "rewards": jnp.zeros((c.n_step, e, a), jnp.float32),
            "dones": jnp.zeros((c.n_step, e), bool),
        }
        item = {
            "obs": obs,
            "action": jnp.zeros((e, a), jnp.int32),
            "ret": jnp.zeros((e, a), jnp.float32),
            "discount": jnp.zeros((e, a), jnp.float32),
            "next_obs": obs,
        }
        return DQNState(
            params=params,
            target_params=params,
            opt_state=jax.vmap(self.tx.init)(params),
            env_state=env_state,
            obs=obs,
            window=window,
            replay=ring_init(item, self.slots),
            key=key_run,
            time=jnp.asarray(0, jnp.int32),
        )

    def _env_step(self, state: DQNState, key):
        c = self.config
        key_act, key_scripted, key_env = jax.random.split(key, 3)
        obs_am = jnp.swapaxes(state.obs, 0, 1)
        q = self._q_agents(state.params, obs_am)
        actions = select_actions(key_act, q, c, explore_value(c, state.time))
        actions = override_scripted(self.scripted, key_scripted, obs_am, actions)
        next_obs, env_state, reward, done, info = jax.vmap(self.env.step, (0, 0, 0, None))(
            jax.random.split(key_env, c.num_envs),
            state.env_state,
            jnp.swapaxes(actions, 0, 1),
            self.env_params,
        )
        shift = lambda buf, new: jnp.concatenate([buf[1:], new[None]])
        window = {
            "obs": shift(state.window["obs"], state.obs),
            "actions": shift(state.window["actions"], jnp.swapaxes(actions, 0, 1)),
            "rewards": shift(state.window["rewards"], reward),
            "dones": shift(state.window["dones"], done),
        }
        ret, discount = n_step_return(window["rewards"], window["dones"][..., None], c.gamma)
        item = {
            "obs": window["obs"][0],
            "action": window["actions"][0],
            "ret": ret,
            "discount": discount,
            "next_obs": next_obs,
        }
        # The window holds a whole n-step transition once n steps have been taken.
        replay = ring_add(state.replay, item, valid=state.time + 1 >= c.n_step)
        state = state.replace(
            env_state=env_state, obs=next_obs, window=window, replay=replay, time=state.time + 1
        )
        return state, (info, q)

    def _sample(self, key, replay: Ring):
        """A batch per bank: items with leading axes [banks, batch]."""
        c = self.config
        shape = (self.num_banks, c.batch_size)
        key_slot, key_env, key_agent = jax.random.split(key, 3)
        slot = ring_sample_slots(key_slot, replay, shape)
        env = jax.random.randint(key_env, shape, 0, c.num_envs)
        counts = jnp.asarray(np.maximum(self.member_counts, 1))[:, None]
        pick = jax.random.randint(key_agent, shape, 0, counts)
        agent = jnp.take_along_axis(jnp.asarray(self.members), pick, axis=1)
        return jax.tree.map(lambda x: x[slot, env, agent], replay.items)

    def _loss(self, params, target_params, batch):
        q = self._q_single(params, batch["obs"])
        q_taken = jnp.take_along_axis(q, batch["action"][..., None], -1)[..., 0]
        targets = double_dqn_targets(
            batch["ret"],
            batch["discount"],
            self._q_single(params, batch["next_obs"]),
            self._q_single(target_params, batch["next_obs"]),
        )
        td = q_taken - jax.lax.stop_gradient(targets)
        return optax.huber_loss(td).mean(), {"loss/td": optax.huber_loss(td).mean()}

    def _gradient_step(self, carry, key):
        params, target_params, opt_state, replay = carry
        batch = self._sample(key, replay)
        grads, stats = jax.vmap(jax.grad(self._loss, has_aux=True))(params, target_params, batch)
        # A bank whose agents are all scripted has nothing to learn from.
        trained = jnp.asarray(self.member_counts > 0)
        grads = jax.tree.map(
            lambda g: g * trained.reshape(-1, *([1] * (g.ndim - 1))).astype(g.dtype), grads
        )
        updates, opt_state = jax.vmap(self.tx.update)(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        if self.config.polyak < 1.0:
            target_params = optax.incremental_update(params, target_params, self.config.polyak)
        return (params, target_params, opt_state, replay), jax.tree.map(jnp.mean, stats)

    def update(self, state: DQNState):
        c = self.config
        key, key_steps, key_grads = jax.random.split(state.key, 3)
        state, (info, q) = jax.lax.scan(
            self._env_step, state, jax.random.split(key_steps, c.num_steps)
        )
        carry = (state.params, state.target_params, state.opt_state, state.replay)
        (params, target_params, opt_state, _), stats = jax.lax.scan(
            self._gradient_step, carry, jax.random.split(key_grads, c.gradient_steps)
        )
        learning = state.time >= c.learning_starts
        if c.learning_stops:
            learning &= state.time <= c.learning_stops
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(learning, a, b), new, old)
        params = keep(params, state.params)
        opt_state = keep(opt_state, state.opt_state)
        if c.polyak < 1.0:
            target_params = keep(target_params, state.target_params)
        else:
            # Hard copy when this update crossed a multiple of target_every time steps.
            crossed = (state.time // c.target_every) > (
                (state.time - c.num_steps) // c.target_every
            )
            target_params = jax.tree.map(
                lambda p, t: jnp.where(learning & crossed, p, t), params, state.target_params
            )
        state = state.replace(
            params=params, target_params=target_params, opt_state=opt_state, key=key
        )
        # Before learning starts there is no loss; report 0 rather than a NaN.
        metrics = {k: jnp.where(learning, v.mean(), 0.0) for k, v in stats.items()}
        metrics.update(episode_metric_sums(self.env, info, self.learner))
        metrics.update(step_rates(self.env, info))
        metrics["exploration"] = explore_value(c, state.time)
        metrics["q_mean"] = q.mean()
        return state, metrics

    def policy(self, state: DQNState, greedy: bool = True) -> Policy:
        """Greedy in the learned Q-values (or with the current exploration), for one env."""

        def act(key, obs):
            q = self._q_agents(state.params, obs[:, None])[:, 0]
            if greedy:
                actions = jnp.argmax(q, -1).astype(jnp.int32)
            else:
                actions = select_actions(
                    key, q, self.config, explore_value(self.config, state.time)
                )
            return override_scripted(self.scripted, key, obs[:, None], actions[:, None])[:, 0]

        return stateless(act)


def make(config: dict, env, env_params, scripted=None, total_steps: int = 0) -> DQN:
    return DQN(build(DQNConfig, config, "algo"), env, env_params, scripted, total_steps)

"""Double DQN for many agents, with shared, grouped or independent Q-networks.

One update = `num_steps` time steps in each of `num_envs` environments (vmapped), every
agent acting by epsilon-greedy or Boltzmann exploration on its bank's Q-values, each step
adding every agent's n-step transition to a replay ring in JAX, then `gradient_steps`
double-DQN steps (once `learning_starts` time steps have passed and the ring holds a
transition: the first is complete after `n_step` time steps, so a `learning_starts` below
`n_step`, 0 included, means "as soon as there is data", never a step on an empty ring).

- Parameter banks as in PPO (`shared`, `independent`, `groups:K`): bank b is trained
  only on transitions of its own learning agents, with its own optimiser state; scripted
  slots act by their rule and are never sampled for learning.
- Targets: y = R^(n) + gamma^n (1 - done) Q_target(s', argmax_a Q_online(s', a)); Huber
  loss. Target network: a hard copy every `target_every` time steps, or Polyak averaging
  with `polyak` < 1 after every gradient step.
- Schedules (exploration, learning_starts, target_every) count time steps, i.e. steps
  of each environment, so they do not change with `num_envs`.
- Time limits: by default a truncated episode is treated as terminal (no bootstrap);
  `bootstrap_truncated: true` builds the env with `final_obs=True` and bootstraps an
  n-step transition that a time limit cuts from the final observation of its episode,
  with discount gamma^(steps up to the cut) (`marl.returns.n_step_return_cut`).
- Environments whose observations are bit vectors (`env.binary_observations`, e.g. the
  spatial PD: 5 bits, 32 states) are evaluated through a table of Q over every possible
  observation: each bank's network runs once on the 2^d observations and agents and
  replay samples look their Q up, which gives the same values as running the network on
  each observation and costs far less when agents outnumber the states. There `q_table:
  true` replaces the network by the table itself (one exact Q per state and action),
  trained by batched tabular Q-learning on the same targets: each sampled entry moves by
  `table_lr` times the mean TD error of the samples that hit it; the network's optimiser
  settings (lr, weight decay, clipping) and its Huber loss do not apply.
- The exploration start (epsilon or temperature) and the env params live in the state
  as arrays, so a sweep can vmap over them inside one compiled program
  (`init(key, env_params=..., explore_start=...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from marl.config import fail
from marl.metrics import episode_metric_sums, step_rates
from marl.networks import Head, NetworkConfig
from marl.policy import Policy, stateless
from marl.replay import Ring, ring_add, ring_init
from marl.returns import n_step_return, n_step_return_cut
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
    learning_starts: int = 200  # time steps before the first gradient step (>= n_step in effect)
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
    q_table: bool = False  # a Q-table over bit-vector observations instead of a network
    table_lr: float = 0.1  # the table's step size (q_table only)
    bootstrap_truncated: bool = False  # bootstrap time-limit truncation (final observation)
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
        if not 0.0 < self.table_lr <= 1.0:
            fail(f"{path}.table_lr", self.table_lr, "a number in (0, 1]")
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
    window: dict  # the last n steps: obs, actions, rewards [n, E, A(, ...)], dones [n, E];
    # with bootstrap_truncated also terminated [n, E] and final (encoded final obs)
    replay: Ring  # items: one time step of every env and agent
    key: jax.Array
    time: jax.Array  # int32[], time steps taken (per env)
    explore_start: jax.Array  # float32[], where the exploration schedule starts
    env_params: object  # the env's params (array leaves, so a sweep can vmap them)


def explore_value(config: DQNConfig, time, start=None) -> jax.Array:
    """The linear schedule's epsilon or temperature after `time` time steps, starting
    from `start` (default `config.explore_start`)."""
    start = config.explore_start if start is None else start
    frac = jnp.minimum(time / config.explore_steps, 1.0)
    return start + (config.explore_end - start) * frac


# Observations with at most this many bits are enumerated (2^12 = 4096 states).
MAX_OBS_BITS = 12


def select_actions(key, q, config: DQNConfig, value):
    """Epsilon-greedy or Boltzmann actions from Q-values [..., n_actions]."""
    key_coin, key_random = jax.random.split(key)
    if config.exploration == "boltzmann":
        # Inverse CDF of the softmax: one uniform per choice rather than a Gumbel per
        # action (random bits dominate acting on CPU when hundreds of agents act).
        below = jnp.cumsum(jax.nn.softmax(q / value), -1)[..., :-1]
        u = jax.random.uniform(key_random, (*q.shape[:-1], 1))
        return (below < u).sum(-1).astype(jnp.int32)
    greedy = jnp.argmax(q, -1)
    uniform = jax.random.randint(key_random, greedy.shape, 0, q.shape[-1])
    explore = jax.random.uniform(key_coin, greedy.shape) < value
    return jnp.where(explore, uniform, greedy).astype(jnp.int32)


def _cut_observation(final, cut, after_window):
    """Per env, the observation to bootstrap from: the final observation of step cut[e]
    (final [n, E, ...]) where a time limit cut the window (cut >= 0), else after_window."""
    index = jnp.maximum(cut, 0).reshape(1, -1, *([1] * (final.ndim - 2)))
    at_cut = jnp.take_along_axis(final, index, axis=0)[0]
    where_cut = (cut >= 0).reshape(-1, *([1] * (after_window.ndim - 1)))
    return jnp.where(where_cut, at_cut, after_window)


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
        if config.bootstrap_truncated and not getattr(env, "final_obs", False):
            fail("algo.bootstrap_truncated", True, "an env built with final_obs=True")
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
        self.obs_bits = self._obs_bits(env)
        if config.q_table and not self.obs_bits:
            fail(
                "algo.q_table",
                True,
                f"an environment with bit-vector observations of at most {MAX_OBS_BITS} bits "
                f"(binary_observations, e.g. spatial_pd); {env.name} observes "
                f"{self.obs_shape}",
            )
        # Looking Q up in a per-state table pays when a bank would otherwise evaluate at
        # least as many observations per step (its agents, or a replay batch).
        num_states = 2**self.obs_bits
        self.by_state = config.q_table or (
            self.obs_bits > 0
            and config.network.torso == "mlp"
            and num_states <= max(config.num_envs * self.num_agents, config.batch_size)
        )
        if self.by_state:
            codes = np.arange(num_states)[:, None] >> np.arange(self.obs_bits)[::-1]
            self.all_obs = jnp.asarray(codes & 1, jnp.float32).reshape(num_states, *self.obs_shape)
        if config.q_table:
            self.tx = optax.sgd(config.table_lr)  # stateless; _table_step applies it in place
        else:
            adam = (
                optax.adamw(config.lr, weight_decay=config.weight_decay)
                if config.weight_decay > 0
                else optax.adam(config.lr)
            )
            self.tx = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), adam)

    def _obs_bits(self, env) -> int:
        """d when every observation is d bits (0/1 values) and d <= MAX_OBS_BITS, else 0."""
        if not getattr(env, "binary_observations", False):
            return 0
        bits = int(np.prod(self.obs_shape))
        return bits if bits <= MAX_OBS_BITS else 0

    # ---- networks ------------------------------------------------------------------------
    def _flat(self, obs):
        if self.config.network.torso == "mlp":
            return obs.reshape(*obs.shape[: obs.ndim - len(self.obs_shape)], -1)
        return obs

    def _net(self, params, obs):
        dummy = jnp.zeros((*obs.shape[: obs.ndim - len(self.obs_shape)], 1))
        return self.q.apply(params, dummy, self._flat(obs), None, None)[1]

    def _state_code(self, obs):
        """The index of each bit-vector observation [..., *obs_shape] (first bit highest)."""
        bits = obs.reshape(*obs.shape[: obs.ndim - len(self.obs_shape)], -1).astype(jnp.int32)
        code = bits[..., 0]
        for k in range(1, self.obs_bits):  # shifts and adds: no reduction over a tiny axis
            code = code * 2 + bits[..., k]
        return code

    def _encode(self, obs):
        """What the window and the replay hold: the state code of a bit-vector observation
        (one int instead of d floats), else the observation itself."""
        return self._state_code(obs) if self.by_state else obs

    def _q_by_state(self, params):
        """Q-values [2^d, n_actions] of one bank for every possible observation."""
        return params["table"] if self.config.q_table else self._net(params, self.all_obs)

    def _q_single(self, params, x):
        """Q-values of one bank for a batch of stored inputs (codes or observations)."""
        if self.by_state:
            return self._q_by_state(params)[x]
        return self._net(params, x)

    def _q_agents(self, params, x_am):
        """Q-values [A, E, n_actions] for agent-major stored inputs: codes [A, E] or
        observations [A, E, *obs_shape]."""
        if self.by_state:
            table = jax.vmap(self._q_by_state)(params)  # [banks, 2^d, n_actions]
            return table[jnp.asarray(self.bank_of)[:, None], x_am]
        return apply_per_agent(self._net, params, self.bank_of, x_am)

    def q_values(self, params, obs):
        """Q-values [A, n_actions] of every agent, each with its bank's `params`, for
        agent-major observations [A, *obs_shape] (e.g. the greedy net's action gap)."""
        return self._q_agents(params, self._encode(obs[:, None]))[:, 0]

    def _init_bank(self, key, example):
        if self.config.q_table:
            return {"table": jnp.zeros((2**self.obs_bits, self.num_actions), jnp.float32)}
        return self.q.init(key, jnp.zeros((1, 1)), example, None, None)

    # ---- trainer API ---------------------------------------------------------------------
    def init(self, key, env_params=None, explore_start=None) -> DQNState:
        """A fresh learner; `env_params` and `explore_start` (default: the trainer's) may be
        traced values, e.g. vmapped over a sweep."""
        c = self.config
        env_params = self.env_params if env_params is None else env_params
        explore_start = c.explore_start if explore_start is None else explore_start
        key_env, key_net, key_run = jax.random.split(key, 3)
        obs, env_state = jax.vmap(self.env.reset, (0, None))(
            jax.random.split(key_env, c.num_envs), env_params
        )
        example = self._flat(obs[0, :1])
        params = jax.vmap(lambda k: self._init_bank(k, example))(
            jax.random.split(key_net, self.num_banks)
        )
        e, a = c.num_envs, self.num_agents
        stored = self._encode(obs)
        window = {
            "obs": jnp.zeros((c.n_step, *stored.shape), stored.dtype),
            "actions": jnp.zeros((c.n_step, e, a), jnp.int32),
            "rewards": jnp.zeros((c.n_step, e, a), jnp.float32),
            "dones": jnp.zeros((c.n_step, e), bool),
        }
        if c.bootstrap_truncated:
            window["terminated"] = jnp.zeros((c.n_step, e), bool)
            window["final"] = jnp.zeros((c.n_step, *stored.shape), stored.dtype)
        item = {
            "obs": stored,
            "action": jnp.zeros((e, a), jnp.int32),
            "ret": jnp.zeros((e, a), jnp.float32),
            "discount": jnp.zeros((e, a), jnp.float32),
            "next_obs": stored,
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
            explore_start=jnp.asarray(explore_start, jnp.float32),
            env_params=env_params,
        )

    def _env_step(self, state: DQNState, key):
        c = self.config
        key_act, key_scripted, key_env = jax.random.split(key, 3)
        obs_am = jnp.swapaxes(state.obs, 0, 1)
        q = self._q_agents(state.params, self._encode(obs_am))
        actions = select_actions(key_act, q, c, explore_value(c, state.time, state.explore_start))
        actions = override_scripted(self.scripted, key_scripted, obs_am, actions)
        next_obs, env_state, reward, done, info = jax.vmap(self.env.step, (0, 0, 0, None))(
            jax.random.split(key_env, c.num_envs),
            state.env_state,
            jnp.swapaxes(actions, 0, 1),
            state.env_params,
        )
        shift = lambda buf, new: jnp.concatenate([buf[1:], new[None]])
        window = {
            "obs": shift(state.window["obs"], self._encode(state.obs)),
            "actions": shift(state.window["actions"], jnp.swapaxes(actions, 0, 1)),
            "rewards": shift(state.window["rewards"], reward),
            "dones": shift(state.window["dones"], done),
        }
        bootstrap_obs = self._encode(next_obs)
        if c.bootstrap_truncated:
            window["terminated"] = shift(state.window["terminated"], info["terminated"])
            window["final"] = shift(state.window["final"], self._encode(info.pop("final_obs")))
            ret, discount, cut = n_step_return_cut(
                window["rewards"],
                window["terminated"][..., None],
                (window["dones"] & ~window["terminated"])[..., None],
                c.gamma,
            )
            bootstrap_obs = _cut_observation(window["final"], cut[:, 0], bootstrap_obs)
        else:
            ret, discount = n_step_return(window["rewards"], window["dones"][..., None], c.gamma)
        item = {
            "obs": window["obs"][0],
            "action": window["actions"][0],
            "ret": ret,
            "discount": discount,
            "next_obs": bootstrap_obs,
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
        # One draw per sample over (filled slot, env, member agent) rather than three.
        counts = jnp.asarray(np.maximum(self.member_counts, 1))[:, None]
        per_slot = c.num_envs * counts
        filled = jnp.maximum(replay.filled, 1)  # only filled slots, as ring_sample_slots
        index = jax.random.randint(key, shape, 0, filled * per_slot)
        slot, within = index // per_slot, index % per_slot
        env, pick = within // counts, within % counts
        agent = jnp.take_along_axis(jnp.asarray(self.members), pick, axis=1)
        # One flat index into [slots * envs * agents]: gathers with one index run much
        # faster on CPU than with three.
        flat = (slot * c.num_envs + env) * self.num_agents + agent
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[3:])[flat], replay.items)

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
        if self.config.q_table:
            loss = 0.5 * td**2  # a table: plain Q-learning (see _table_gradient)
            # Each table entry takes the mean gradient of the samples that hit it: weight
            # each sample by 1 / (samples in the batch with its state and action).
            entry = batch["obs"] * self.num_actions + batch["action"]
            hits = (entry[..., :, None] == entry[..., None, :]).sum(-1)
            return (loss / hits).sum(), {"loss/td": loss.mean()}
        loss = optax.huber_loss(td)
        return loss.mean(), {"loss/td": loss.mean()}

    def _table_gradient(self, params, target_params, batch):
        """Per sample of one bank's batch, its share of `jax.grad(self._loss)` of a Q-table:
        td over the hits of its entry, so each entry moves by table_lr times its samples'
        mean TD error (tabular Q-learning; Huber's clipping would move every entry far
        from its target by the same table_lr per hit, whatever its value); and the loss."""
        table, target = params["table"], target_params["table"]
        q_taken = table[batch["obs"], batch["action"]]
        targets = double_dqn_targets(
            batch["ret"], batch["discount"], table[batch["next_obs"]], target[batch["next_obs"]]
        )
        td = q_taken - targets
        entry = batch["obs"] * self.num_actions + batch["action"]
        hits = (entry[:, None] == entry[None, :]).sum(-1)
        return td / hits, (0.5 * td**2).mean()

    def _table_step(self, params, target_params, batch):
        """SGD on the tables, written as a scatter-add of each sample's gradient share into
        its entry, in place (autodiff's dense gradient costs a pass over every table, and
        its gathers are slow on CPU)."""
        share, loss = jax.vmap(self._table_gradient)(params, target_params, batch)
        trained = jnp.asarray(self.member_counts > 0, jnp.float32)[:, None]
        banks = jnp.arange(self.num_banks)[:, None]
        table = (
            params["table"]
            .at[banks, batch["obs"], batch["action"]]
            .add(-self.config.table_lr * share * trained)
        )
        return {"table": table}, {"loss/td": loss}

    def _gradient_step(self, carry, key):
        params, target_params, opt_state, replay = carry
        batch = self._sample(key, replay)
        if self.config.q_table:
            params, stats = self._table_step(params, target_params, batch)
            return (params, target_params, opt_state, replay), jax.tree.map(jnp.mean, stats)
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
        # An empty ring would be "sampled" at its zero-filled slot 0: wait for data.
        learning = (state.time >= c.learning_starts) & (state.replay.filled > 0)
        if c.learning_stops:
            learning &= state.time <= c.learning_stops

        def learn(carry):
            (params, target_params, opt_state, _), stats = jax.lax.scan(
                self._gradient_step, carry, jax.random.split(key_grads, c.gradient_steps)
            )
            return (params, target_params, opt_state), stats["loss/td"].mean()

        def wait(carry):
            # Before learning starts there is no loss; report 0 rather than a NaN.
            return carry[:3], jnp.zeros((), jnp.float32)

        # A branch, not a select: where every seed shares the step counter (a sweep
        # keeps it unbatched), the phases without learning cost nothing.
        carry = (state.params, state.target_params, state.opt_state, state.replay)
        (params, target_params, opt_state), loss = jax.lax.cond(learning, learn, wait, carry)
        if c.polyak == 1.0:
            # Hard copy when this update crossed a multiple of target_every time steps.
            crossed = (state.time // c.target_every) > (
                (state.time - c.num_steps) // c.target_every
            )
            target_params = jax.lax.cond(
                learning & crossed, lambda: params, lambda: state.target_params
            )
        state = state.replace(
            params=params, target_params=target_params, opt_state=opt_state, key=key
        )
        metrics = {"loss/td": loss}
        metrics.update(episode_metric_sums(self.env, info, self.learner))
        metrics.update(step_rates(self.env, info))
        metrics["exploration"] = explore_value(c, state.time, state.explore_start)
        metrics["q_mean"] = q.mean()
        return state, metrics

    def policy(self, state: DQNState, greedy: bool = True) -> Policy:
        """Greedy in the learned Q-values (or with the current exploration), for one env."""

        def act(key, obs):
            q = self._q_agents(state.params, self._encode(obs[:, None]))[:, 0]
            if greedy:
                actions = jnp.argmax(q, -1).astype(jnp.int32)
            else:
                value = explore_value(self.config, state.time, state.explore_start)
                actions = select_actions(key, q, self.config, value)
            return override_scripted(self.scripted, key, obs[:, None], actions[:, None])[:, 0]

        return stateless(act)


# Numeric settings a sweep may vary inside one compiled program (`sweep.algo.<key>`):
# the trainer reads them as traced values, never in a Python branch or a shape.
SWEEPABLE = (
    "lr",
    "gamma",
    "max_grad_norm",
    "target_every",
    "explore_start",
    "explore_end",
    "explore_steps",
    "learning_starts",
    "table_lr",
)
CONFIG, TRAINER = DQNConfig, DQN

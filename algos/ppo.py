"""PPO for many agents: IPPO with shared, independent or grouped parameters; MAPPO option.

One update = a rollout of `num_steps` steps in `num_envs` environments (vmapped), GAE,
then `update_epochs` passes of minibatched clipped-PPO gradient steps.

- Parameter sharing: parameters live in "banks" with a leading axis; agent i uses bank
  `bank_of[i]`: one bank (`shared`), one per agent (`independent`) or K (`groups:K`,
  agent i in bank i mod K). Each bank has its own optimiser state and gradient clipping,
  and its loss is the mean over its own learning agents' samples only.
- Minibatches split the (time, env) samples and keep every agent's sample of each (so a
  bank always sees its agents); with a GRU they split whole env sequences.
- Scripted co-players (`scripted` slots) act by their fixed rule and are left out of
  every loss; the other slots learn.
- Co-player pool (`coplayers`, marl/coplayers.py): in a share of the episodes one
  learning slot is played by a scripted policy or a past copy of the learners' actors (a
  copy plays with the parameter bank of the slot it takes); that slot's samples of the
  episode are left out of every loss. So the learners meet those co-players as well as
  each other (e.g. always-defect bots or their own past selves beside self-play).
- Critic: `local` sees the agent's own observation; `central` (MAPPO) sees all agents'
  observations joined, plus the agent's id.
- Time limits: with `bootstrap_truncated`, the env reports the final observation and
  truncated steps add gamma * V(final observation) to their reward in the advantage
  estimate (`Rollout.bootstrap`); otherwise the time limit is treated as terminal (the
  default: it saves a second observation per step). The reward metrics (`reward_mean`,
  `coplayers/...`) count only the rewards the env paid.
- Subclasses change the estimator through four hooks, `advantages`,
  `minibatch_advantages`, `policy_loss` and `value_loss` (Advantage Alignment does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from marl import coplayers
from marl.config import fail
from marl.coplayers import CoplayerConfig
from marl.losses import approx_kl, clipped_policy_loss, clipped_value_loss
from marl.metrics import episode_metric_sums, step_rates
from marl.networks import NetworkConfig, initial_hidden, make_heads
from marl.policy import Policy
from marl.returns import gae
from marl.scripted import override_scripted
from marl.sharing import agent_banks, apply_per_agent, parse_sharing


@dataclass(frozen=True)
class PPOConfig:
    name: str = "ppo"
    num_envs: int = 16
    num_steps: int = 64
    lr: float = 3e-3
    anneal_lr: bool = False
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    update_epochs: int = 4
    num_minibatches: int = 4
    sharing: str = "shared"  # shared | independent | groups:K
    agent_id: bool = False  # append the agent's one-hot id after the torso
    critic: str = "local"  # local | central (MAPPO)
    bootstrap_truncated: bool = False
    network: NetworkConfig = field(default_factory=NetworkConfig)
    coplayers: CoplayerConfig = field(default_factory=CoplayerConfig)

    def check(self, path):
        for key in ("num_envs", "num_steps", "update_epochs", "num_minibatches"):
            if getattr(self, key) < 1:
                fail(f"{path}.{key}", getattr(self, key), "an integer >= 1")
        for key in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                fail(f"{path}.{key}", getattr(self, key), "a number in [0, 1]")
        for key in ("lr", "clip_eps", "max_grad_norm"):
            if getattr(self, key) <= 0:
                fail(f"{path}.{key}", getattr(self, key), "a number > 0")
        for key in ("ent_coef", "vf_coef"):
            if getattr(self, key) < 0:
                fail(f"{path}.{key}", getattr(self, key), "a number >= 0")
        if self.critic not in ("local", "central"):
            fail(f"{path}.critic", self.critic, "local or central")
        parse_sharing(self.sharing, path)


@struct.dataclass
class PPOState:
    params: dict  # {"actor": ..., "critic": ...}, each with a leading bank axis
    opt_state: object
    env_state: object  # [num_envs]
    obs: jax.Array  # [num_envs, num_agents, *obs_shape]
    done: jax.Array  # [num_envs], the previous step ended an episode (GRU resets)
    hidden: dict  # {"actor": [A, E, H], "critic": [A, E, H]}
    key: jax.Array  # raw uint32 key
    updates: jax.Array  # int32[]
    coplayer: jax.Array  # int32[E, 2]: (slot, pool index) of this episode's pool co-player;
    # slot -1: none (always, without a pool). Pool index: scripted ones first, then copies.
    past: object  # [past, banks, ...] copies of params["actor"]; None without past copies
    past_filled: jax.Array  # int32[], copies taken so far


@struct.dataclass
class Rollout:
    obs: jax.Array  # [T, A, E, ...] agent-major
    critic_obs: jax.Array | None  # [T, A, E, ...] for a central critic; None: same as obs
    actions: jax.Array  # [T, A, E]
    log_probs: jax.Array  # [T, A, E]
    values: jax.Array  # [T, A, E]
    rewards: jax.Array  # [T, A, E], as the env paid them
    dones: jax.Array  # [T, E]
    resets: jax.Array  # [T, E], step t starts an episode
    coplayer_slot: jax.Array  # [T, E] int32, the slot a pool co-player played; -1: none
    # [T, A, E] gamma * V(final obs) on truncated steps, added to the rewards by the
    # estimator only; None without bootstrap_truncated
    bootstrap: jax.Array | None = None


class PPO:
    def __init__(
        self,
        config: PPOConfig,
        env,
        env_params,
        scripted: dict | None = None,
        total_steps: int = 0,
    ):
        self.config = config
        self.env = env
        self.env_params = env_params
        self.num_agents = env.num_agents
        self.bank_of, self.num_banks, self.scripted, learner = agent_banks(
            config.sharing, env, scripted
        )
        self.learner = learner
        self.pool = coplayers.scripted_members(config.coplayers, env)
        self.mixing = config.coplayers.prob > 0
        # Loss weight of each agent: 1 / (learning agents in its bank), so each bank's loss
        # is the mean over its own agents and banks do not scale one another's gradients.
        per_bank = np.bincount(self.bank_of[learner], minlength=self.num_banks)
        self.agent_weight = np.where(learner, 1.0 / np.maximum(per_bank[self.bank_of], 1), 0.0)

        self.obs_shape = tuple(env.observation_space(env_params).shape)
        self.num_actions = env.action_space(env_params).n
        self.steps_per_update = config.num_envs * config.num_steps
        # Linear learning-rate annealing runs to zero over the whole run.
        self.total_updates = max(total_steps // self.steps_per_update, 1)
        samples = config.num_envs if config.network.gru else config.num_envs * config.num_steps
        if samples % config.num_minibatches:
            what = "num_envs" if config.network.gru else "num_envs * num_steps"
            fail(
                "algo.num_minibatches",
                config.num_minibatches,
                f"a divisor of {what} = {samples}",
            )
        if config.network.torso == "cnn" and len(self.obs_shape) != 3:
            fail("algo.network.torso", "cnn", f"grid observations [H, W, C]; got {self.obs_shape}")
        if config.bootstrap_truncated and not getattr(env, "final_obs", False):
            fail("algo.bootstrap_truncated", True, "an env built with final_obs=True")
        self.actor, self.critic = make_heads(config.network, self.num_actions)
        self.tx = optax.chain(
            optax.clip_by_global_norm(config.max_grad_norm),
            optax.adam(self._learning_rate, eps=1e-5),
        )

    # ---- plumbing ------------------------------------------------------------------------
    def _learning_rate(self, count):
        c = self.config
        if not c.anneal_lr:
            return c.lr
        minibatch_steps = c.update_epochs * c.num_minibatches
        return c.lr * (1.0 - (count // minibatch_steps) / self.total_updates)

    def _network_input(self, obs):
        """Agent-major obs [A, B, *obs_shape] -> the torso's input (flat for an MLP)."""
        if self.config.network.torso == "mlp":
            return obs.reshape(*obs.shape[:2], -1)
        return obs

    def _critic_input(self, obs):
        """[E, A, *obs] -> [A, E, ...]: own obs, or all agents' joined (MAPPO)."""
        own = jnp.swapaxes(obs, 0, 1)
        if self.config.critic == "local":
            return own
        joined = jnp.moveaxis(obs, 1, -1)  # [E, *obs, A]
        joined = joined.reshape(*joined.shape[:-2], -1)  # channels of all agents
        return jnp.broadcast_to(joined, (self.num_agents, *joined.shape))

    def _extra(self, batch_shape, central: bool):
        """The agent-id one-hot [A, *batch, A], or None when the network does not take it."""
        if not (self.config.agent_id or central):
            return None
        ids = jnp.eye(self.num_agents, dtype=jnp.float32)
        return jnp.broadcast_to(
            ids.reshape(self.num_agents, *([1] * len(batch_shape)), self.num_agents),
            (self.num_agents, *batch_shape, self.num_agents),
        )

    def _apply(self, net, params, hidden, x, extra, reset):
        return apply_per_agent(net.apply, params, self.bank_of, hidden, x, extra, reset)

    def _heads(self, params, hidden, obs_am, critic_obs, reset):
        """Logits [A, B, n] and values [A, B] for agent-major inputs of one step."""
        batch = obs_am.shape[1:2]
        central = self.config.critic == "central"
        h_actor, logits = self._apply(
            self.actor,
            params["actor"],
            hidden["actor"],
            self._network_input(obs_am),
            self._extra(batch, False),
            reset,
        )
        h_critic, value = self._apply(
            self.critic,
            params["critic"],
            hidden["critic"],
            self._network_input(critic_obs),
            self._extra(batch, central),
            reset,
        )
        return {"actor": h_actor, "critic": h_critic}, logits, value[..., 0]

    # ---- trainer API ---------------------------------------------------------------------
    def init(self, key) -> PPOState:
        c = self.config
        key_env, key_actor, key_critic, key_run = jax.random.split(key, 4)
        env_keys = jax.random.split(key_env, c.num_envs)
        obs, env_state = jax.vmap(self.env.reset, (0, None))(env_keys, self.env_params)
        hidden = initial_hidden(c.network, (self.num_agents, c.num_envs))
        hidden = {"actor": hidden, "critic": hidden}
        reset = jnp.ones((self.num_agents, 1), bool)
        obs_am = jnp.swapaxes(obs, 0, 1)[:, :1]
        critic_obs = self._critic_input(obs)[:, :1]

        def init_bank(net, key, x, extra):
            h = hidden["actor"][0, :1]
            return net.init(key, h, x, extra, reset[0])

        def banks(net, key, x, extra):
            keys = jax.random.split(key, self.num_banks)
            x0 = self._network_input(x)[0]
            e0 = None if extra is None else extra[0]
            return jax.vmap(lambda k: init_bank(net, k, x0, e0))(keys)

        params = {
            "actor": banks(self.actor, key_actor, obs_am, self._extra((1,), False)),
            "critic": banks(
                self.critic,
                key_critic,
                critic_obs,
                self._extra((1,), self.config.critic == "central"),
            ),
        }
        return PPOState(
            params=params,
            opt_state=jax.vmap(self.tx.init)(params),
            env_state=env_state,
            obs=obs,
            done=jnp.ones(c.num_envs, bool),
            hidden=hidden,
            key=key_run,
            updates=jnp.asarray(0, jnp.int32),
            coplayer=jnp.full((c.num_envs, 2), -1, jnp.int32),
            past=coplayers.empty_copies(params["actor"], c.coplayers.past),
            past_filled=jnp.asarray(0, jnp.int32),
        )

    def _act(self, params, hidden, obs, done, key, coplayer=None, past=None):
        """One step of every agent in every env: (hidden, actions [A, E], log p, value).
        `coplayer` [E, 2]: pool co-players (`marl.coplayers.draw`) replace those actions;
        `past`: the state's copies of the actors."""
        obs_am = jnp.swapaxes(obs, 0, 1)
        reset = jnp.broadcast_to(done, (self.num_agents, *done.shape))
        hidden, logits, value = self._heads(params, hidden, obs_am, self._critic_input(obs), reset)
        key_sample, key_scripted = jax.random.split(key)
        dist = distrax.Categorical(logits=logits)
        actions = dist.sample(seed=key_sample).astype(jnp.int32)
        actions = override_scripted(self.scripted, key_scripted, obs_am, actions)
        if coplayer is not None:
            key_pool = jax.random.fold_in(key_scripted, self.num_agents)
            actions = coplayers.override_scripted_members(
                self.pool, key_pool, obs_am, actions, coplayer
            )
            if past is not None:
                key_past = jax.random.fold_in(key_scripted, self.num_agents + 1)
                actions, hidden = self._past_coplayers(
                    past, key_past, obs_am, reset, hidden, actions, coplayer
                )
        return hidden, actions, dist.log_prob(actions), value, obs_am, reset

    def _past_coplayers(self, past, key, obs_am, reset, hidden, actions, coplayer):
        """Where env e's pool co-player is a past copy, its slot's action [A, E] (and
        actor hidden state, for a GRU) come from that copy, with the bank of the slot."""
        num_envs = coplayer.shape[0]
        envs = jnp.arange(num_envs)
        slot = jnp.maximum(coplayer[:, 0], 0)
        copy = coplayer[:, 1] - len(self.pool)
        is_past = (coplayer[:, 0] >= 0) & (copy >= 0)
        bank = jnp.asarray(self.bank_of)[slot]
        params = jax.tree.map(lambda p: p[jnp.maximum(copy, 0), bank], past)  # [E, ...]
        x = self._network_input(obs_am)[slot, envs]
        h = hidden["actor"][slot, envs]
        extra = self._extra((num_envs,), False)
        extra = None if extra is None else extra[slot, envs]

        def one(p, h, x, e, r):  # a batch of one: the network's input shapes
            e = None if e is None else e[None]
            h, logits = self.actor.apply(p, h[None], x[None], e, r[None])
            return h[0], logits[0]

        h_past, logits = jax.vmap(one)(params, h, x, extra, reset[slot, envs])
        chosen = distrax.Categorical(logits=logits).sample(seed=key).astype(jnp.int32)
        actions = actions.at[slot, envs].set(jnp.where(is_past, chosen, actions[slot, envs]))
        actor = hidden["actor"].at[slot, envs].set(jnp.where(is_past[:, None], h_past, h))
        return actions, {**hidden, "actor": actor}

    def _rollout(self, state: PPOState):
        c = self.config
        step_env = jax.vmap(self.env.step, (0, 0, 0, None))

        def one_step(carry, key):
            env_state, obs, done, hidden, coplayer = carry
            key_act, key_env = jax.random.split(key)
            if self.mixing:
                key_draw = jax.random.fold_in(key_act, 1)
                size = len(self.pool) + jnp.minimum(state.past_filled, c.coplayers.past)
                learning = jnp.asarray(np.flatnonzero(self.learner), jnp.int32)
                coplayer = coplayers.draw(
                    key_draw, done, coplayer, learning, size, c.coplayers.prob
                )
            hidden_next, actions, log_p, value, obs_am, reset = self._act(
                state.params,
                hidden,
                obs,
                done,
                key_act,
                coplayer if self.mixing else None,
                state.past,
            )
            env_keys = jax.random.split(key_env, c.num_envs)
            next_obs, env_state, reward, next_done, info = step_env(
                env_keys, env_state, jnp.swapaxes(actions, 0, 1), self.env_params
            )
            reward = jnp.swapaxes(reward, 0, 1)
            bootstrap = None
            if c.bootstrap_truncated:
                final = info.pop("final_obs")
                _, _, final_value = self._heads(
                    state.params,
                    hidden_next,
                    jnp.swapaxes(final, 0, 1),
                    self._critic_input(final),
                    jnp.zeros_like(reset),
                )
                bootstrap = c.gamma * info["truncated"] * final_value
            step = Rollout(
                obs=obs_am,
                critic_obs=self._critic_input(obs) if c.critic == "central" else None,
                actions=actions,
                log_probs=log_p,
                values=value,
                rewards=reward,
                dones=next_done,
                resets=done,
                coplayer_slot=coplayer[:, 0],
                bootstrap=bootstrap,
            )
            return (env_state, next_obs, next_done, hidden_next, coplayer), (step, info)

        key, key_steps = jax.random.split(state.key)
        carry = (state.env_state, state.obs, state.done, state.hidden, state.coplayer)
        hidden0 = state.hidden
        carry, (rollout, info) = jax.lax.scan(
            one_step, carry, jax.random.split(key_steps, c.num_steps)
        )
        env_state, obs, done, hidden, coplayer = carry
        _, _, last_value = self._heads(
            state.params,
            hidden,
            jnp.swapaxes(obs, 0, 1),
            self._critic_input(obs),
            jnp.broadcast_to(done, (self.num_agents, *done.shape)),
        )
        state = state.replace(
            env_state=env_state, obs=obs, done=done, hidden=hidden, key=key, coplayer=coplayer
        )
        return state, rollout, info, last_value, hidden0

    # ---- the estimator's steps (subclasses such as Advantage Alignment override these) --
    def advantages(self, rollout: Rollout, last_value):
        """(advantages, value targets), both [T, A, E], for the whole rollout: GAE."""
        c = self.config
        dones = rollout.dones[:, None, :]
        rewards = rollout.rewards
        if rollout.bootstrap is not None:
            rewards = rewards + rollout.bootstrap
        return gae(rewards, rollout.values, dones, last_value, c.gamma, c.gae_lambda)

    def minibatch_advantages(self, advantages, learns):
        """The advantages a minibatch's loss uses: whitened over its learning samples."""
        return whiten(advantages, learns)

    def learns(self, coplayer_slot):
        """Which samples [T, A, E] the learners made (1.0) and which scripted slots or pool
        co-players made (0.0), from the rollout's `coplayer_slot` [T, E]. Without a pool,
        the static mask of the learning slots, [1, A, 1]: static counts keep the numbers
        of runs without a pool exactly what they were before pools existed."""
        learner = jnp.asarray(self.learner)[None, :, None]
        if not self.mixing:
            return learner
        agents = jnp.arange(self.num_agents)[None, :, None]
        return (learner & (coplayer_slot[:, None, :] != agents)).astype(jnp.float32)

    def policy_loss(self, log_p, old_log_p, advantages):
        """Per-sample policy loss: PPO's clipped surrogate."""
        return clipped_policy_loss(log_p, old_log_p, advantages, self.config.clip_eps)

    def value_loss(self, values, old_values, targets):
        """Per-sample value loss: PPO's clipped regression."""
        return clipped_value_loss(values, old_values, targets, self.config.clip_eps)

    def _loss(self, params, batch, hidden0):
        c = self.config
        rollout, advantages, targets = batch
        critic_obs = rollout.obs if rollout.critic_obs is None else rollout.critic_obs
        if c.network.gru:

            def step(hidden, xs):
                obs, critic_obs, reset = xs
                reset = jnp.broadcast_to(reset, (self.num_agents, *reset.shape))
                hidden, logits, value = self._heads(params, hidden, obs, critic_obs, reset)
                return hidden, (logits, value)

            xs = (rollout.obs, critic_obs, rollout.resets)
            _, (logits, values) = jax.lax.scan(step, hidden0, xs)
        else:
            # Feed-forward: fold time into the batch axis, one call for the whole minibatch.
            t, a, b = rollout.actions.shape
            fold = lambda x: jnp.swapaxes(x, 0, 1).reshape(a, t * b, *x.shape[3:])
            reset = jnp.zeros((a, t * b), bool)
            _, logits, values = self._heads(
                params, hidden0, fold(rollout.obs), fold(critic_obs), reset
            )
            unfold = lambda x: jnp.swapaxes(x.reshape(a, t, b, *x.shape[2:]), 0, 1)
            logits, values = unfold(logits), unfold(values)

        dist = distrax.Categorical(logits=logits)
        log_p = dist.log_prob(rollout.actions)
        learns = self.learns(rollout.coplayer_slot)
        samples = rollout.actions.shape[0] * rollout.actions.shape[2]
        weight, count = self._sample_weights(learns, samples)
        mean = lambda x: (x * weight).sum() / count  # sum over banks of each bank's mean
        adv = self.minibatch_advantages(advantages, learns)
        policy_loss = mean(self.policy_loss(log_p, rollout.log_probs, adv))
        value_loss = mean(self.value_loss(values, rollout.values, targets))
        entropy = mean(dist.entropy())
        total = policy_loss + c.vf_coef * value_loss - c.ent_coef * entropy
        stats = {
            "loss/policy": policy_loss,
            "loss/value": value_loss,
            "loss/entropy": entropy,
            "loss/approx_kl": mean(approx_kl(log_p, rollout.log_probs)),
        }
        return total, stats

    def _sample_weights(self, learns, samples: int):
        """Loss weights [T, A, B] and a divisor such that each bank's loss is the mean over
        its own learning samples and banks do not scale one another's gradients."""
        if not self.mixing:  # static: the learning agents of each bank, every (t, env) sample
            return jnp.asarray(self.agent_weight, jnp.float32)[None, :, None], samples
        per_agent = learns.sum((0, 2))
        per_bank = jax.ops.segment_sum(per_agent, self.bank_of, self.num_banks)
        return learns / jnp.maximum(per_bank[self.bank_of], 1.0)[None, :, None], 1.0

    def update(self, state: PPOState):
        c = self.config
        state, rollout, info, last_value, hidden0 = self._rollout(state)
        advantages, targets = self.advantages(rollout, last_value)
        grad_fn = jax.grad(self._loss, has_aux=True)

        def minibatch_step(carry, index):
            params, opt_state = carry
            # index: env ids (GRU) or flat (time, env) ids of this minibatch
            if c.network.gru:
                batch = jax.tree.map(
                    lambda x: x[:, :, index] if x.ndim >= 3 else x[:, index],
                    (rollout, advantages, targets),
                )
                h0 = jax.tree.map(lambda h: h[:, index], hidden0)
            else:
                batch = jax.tree.map(
                    partial(_take_flat, index=index), (rollout, advantages, targets)
                )
                h0 = jax.tree.map(lambda h: h[:, :1], hidden0)
            grads, stats = grad_fn(params, batch, h0)
            updates, opt_state = jax.vmap(self.tx.update)(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), stats

        def epoch(carry, key):
            samples = c.num_envs if c.network.gru else c.num_envs * c.num_steps
            order = jax.random.permutation(key, samples)
            return jax.lax.scan(minibatch_step, carry, order.reshape(c.num_minibatches, -1))

        key, key_epochs = jax.random.split(state.key)
        (params, opt_state), stats = jax.lax.scan(
            epoch,
            (state.params, state.opt_state),
            jax.random.split(key_epochs, c.update_epochs),
        )
        state = state.replace(
            params=params, opt_state=opt_state, key=key, updates=state.updates + 1
        )
        if state.past is not None:
            past, filled = coplayers.take_copy(
                state.past, state.past_filled, params["actor"], state.updates, c.coplayers
            )
            state = state.replace(past=past, past_filled=filled)
        metrics = jax.tree.map(jnp.mean, stats)
        metrics.update(episode_metric_sums(self.env, info, self.learner))
        metrics.update(step_rates(self.env, info))
        metrics["reward_mean"] = rollout.rewards.mean()
        if self.mixing:
            learns = self.learns(rollout.coplayer_slot)
            metrics.update(coplayers.reward_metrics(rollout.rewards, rollout.coplayer_slot, learns))
        return state, metrics

    def policy(self, state: PPOState) -> Policy:
        """Samples from the trained actors for one env; the GRU state (if any) is the carry."""
        num_agents, network = self.num_agents, self.config.network

        def init():
            hidden = initial_hidden(network, (num_agents, 1))
            return {"actor": hidden, "critic": hidden}

        def act(key, obs, hidden, done):
            done = jnp.asarray(done, bool)
            hidden, actions, *_ = self._act(state.params, hidden, obs[None], done[None], key)
            return actions[:, 0], hidden

        return Policy(init=init, act=act)


def whiten(advantages, learns):
    """(A - mean) / std of agent-major [T, A, B] advantages, the statistics taken over the
    learners' samples only (`learns`, broadcastable to [T, A, B]: scripted slots and pool
    co-players would skew them)."""
    count = jnp.maximum(learns.sum() * (advantages.size // learns.size), 1)
    mean = jnp.sum(advantages * learns) / count
    var = jnp.sum(((advantages - mean) ** 2) * learns) / count
    return (advantages - mean) / (jnp.sqrt(var) + 1e-8)


def _take_flat(x, index):
    """Select flat (time, env) samples from agent-major [T, A, E, ...] or [T, E] arrays."""
    if x.ndim >= 3:
        t, a, e = x.shape[:3]
        flat = jnp.swapaxes(x, 0, 1).reshape(a, t * e, *x.shape[3:])[:, index]
        return flat[None]  # [1, A, M, ...]: a single time step of M samples
    return x.reshape(-1, *x.shape[2:])[index][None]


# Numeric settings a sweep may vary inside one compiled program (`sweep.algo.<key>`):
# the trainer reads them as traced values, never in a Python branch or a shape.
SWEEPABLE = ("lr", "gamma", "gae_lambda", "clip_eps", "ent_coef", "vf_coef", "max_grad_norm")
CONFIG, TRAINER = PPOConfig, PPO

"""PPO's machinery: parameter banks, scripted slots, MAPPO, GRU and CNN torsos."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

import marl
from marl import algos
from marl.env import Env
from marl.spaces import Box, Discrete

FAST = {"name": "ppo", "num_envs": 4, "num_steps": 8, "num_minibatches": 2, "update_epochs": 2}


def trainer_for(env_name="spgg", scripted=None, env_args=None, **algo):
    env, params = marl.make(env_name, **(env_args or {}))
    return algos.make({**FAST, **algo}, marl.EpisodeStats(env), params, scripted)


def train_steps(trainer, updates=3, state=None, seed=0):
    if state is None:
        state = jax.jit(trainer.init)(jax.random.PRNGKey(seed))
    update = jax.jit(trainer.update)
    metrics = None
    for _ in range(updates):
        state, metrics = update(state)
    return state, metrics


def bank_leaves(params):
    return jax.tree.leaves(params)


@pytest.mark.parametrize("sharing, banks", [("shared", 1), ("independent", 4), ("groups:2", 2)])
def test_every_sharing_mode_runs_on_a_four_agent_game(sharing, banks):
    trainer = trainer_for(env_args={"num_agents": 4}, sharing=sharing)
    state, metrics = train_steps(trainer)
    assert all(leaf.shape[0] == banks for leaf in bank_leaves(state.params))
    assert all(np.isfinite(float(v)) for k, v in metrics.items() if k.startswith("loss/"))
    np.testing.assert_array_equal(
        trainer.bank_of, {1: [0] * 4, 4: range(4), 2: [0, 1, 0, 1]}[banks]
    )


def test_independent_banks_diverge_from_identical_starts():
    trainer = trainer_for(env_args={"num_agents": 4}, sharing="independent")
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    same = jax.tree.map(lambda p: jnp.broadcast_to(p[:1], p.shape), state.params)
    state = state.replace(params=same, opt_state=jax.vmap(trainer.tx.init)(same))
    state, _ = train_steps(trainer, state=state)
    kernel = jax.tree.leaves(state.params["actor"])[0]
    for i in range(1, 4):
        assert not np.allclose(kernel[0], kernel[i])


def test_a_bank_is_trained_only_by_its_own_agents():
    # Agents 1 and 3 are scripted; with groups:2 they make up bank 1, which must not move.
    trainer = trainer_for(
        env_args={"num_agents": 4}, sharing="groups:2", scripted={1: "random", 3: "random"}
    )
    start = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    end, _ = train_steps(trainer, state=start)
    for before, after in zip(bank_leaves(start.params), bank_leaves(end.params), strict=True):
        np.testing.assert_array_equal(before[1], after[1])
        assert not np.array_equal(before[0], after[0])


def test_scripted_slot_plays_its_rule():
    trainer = trainer_for("ipd", scripted={1: "always_defect"})
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    policy = trainer.policy(state)
    obs = jnp.zeros((2, 5)).at[:, 0].set(1.0)
    hidden = policy.init()
    act = jax.jit(policy.act)
    actions = [act(jax.random.PRNGKey(i), obs, hidden, True)[0] for i in range(20)]
    assert all(int(a[1]) == 1 for a in actions)
    assert {int(a[0]) for a in actions} == {0, 1}  # the learner still samples


def test_central_critic_sees_every_agents_observation_and_id():
    trainer = trainer_for(env_args={"num_agents": 3}, critic="central")
    state, metrics = train_steps(trainer, updates=1)
    first_kernel = state.params["critic"]["params"]["Torso_0"]["Dense_0"]["kernel"]
    obs_dim = trainer.obs_shape[0]
    assert first_kernel.shape[1] == 3 * obs_dim  # joined observations
    head = state.params["critic"]["params"]["Dense_0"]["kernel"]
    assert head.shape[1] == 64 + 3  # torso output + agent id
    assert np.isfinite(float(metrics["loss/value"]))


@pytest.mark.parametrize("network", [{"gru": 8}, {}])
def test_update_recomputes_the_rollouts_log_probs_exactly(network):
    # One epoch, one minibatch: the loss is evaluated at the rollout's own parameters, so
    # the recomputed log-probabilities (through the GRU's sequence, or the folded batch)
    # must match the sampled ones and the KL estimate must be zero.
    trainer = trainer_for(
        "ipd",
        env_args={"horizon": 5},
        update_epochs=1,
        num_minibatches=1,
        network={"gru": 0, **network},
    )
    _, metrics = train_steps(trainer, updates=2)
    assert abs(float(metrics["loss/approx_kl"])) < 1e-6


def test_gru_policy_learns_to_cooperate_with_tit_for_tat():
    trainer = trainer_for(
        "ipd",
        env_args={"horizon": 16},
        scripted={1: "tit_for_tat"},
        num_envs=8,
        num_steps=32,
        num_minibatches=2,
        network={"gru": 16},
    )
    _, metrics = train_steps(trainer, updates=60)
    rate = float(metrics["learners/cooperation_rate"] / metrics["episodes"])
    assert rate > 0.8


@struct.dataclass
class _GridState:
    position: jax.Array
    t: jax.Array


class _TinyGrid(Env):
    """Two agents on a 3x3 grid; the agent on the goal corner is paid. Image observations."""

    num_agents = 2

    @property
    def default_params(self):
        return {}

    def init_state(self, key, params):
        return _GridState(jax.random.randint(key, (2,), 0, 9), jnp.asarray(0))

    def transition(self, key, state, actions, params):
        position = jnp.clip(state.position + jnp.where(actions == 1, 1, -1), 0, 8)
        reward = (position == 8).astype(jnp.float32)
        t = state.t + 1
        info = {"terminated": jnp.asarray(False), "truncated": t >= 6}
        return _GridState(position, t), reward, t >= 6, info

    def observe(self, state, params):
        cells = jax.nn.one_hot(state.position, 9).reshape(2, 3, 3, 1)
        return jnp.concatenate([cells, cells[::-1]], axis=-1)

    def observation_space(self, params=None):
        return Box(0.0, 1.0, (3, 3, 2), jnp.float32)

    def action_space(self, params=None):
        return Discrete(2)


def test_cnn_torso_runs_on_grid_observations_and_bootstraps_truncation():
    env = _TinyGrid(final_obs=True)
    trainer = algos.make(
        {
            **FAST,
            "network": {"torso": "cnn", "channels": [4], "hidden": [16]},
            "bootstrap_truncated": True,
        },
        marl.EpisodeStats(env),
        {},
    )
    state, metrics = train_steps(trainer, updates=2)
    conv = state.params["actor"]["params"]["Torso_0"]["Conv_0"]["kernel"]
    assert conv.shape == (1, 3, 3, 2, 4)
    assert np.isfinite(float(metrics["loss/value"]))


def test_cnn_on_vector_observations_and_bootstrap_without_final_obs_are_refused():
    with pytest.raises(ValueError, match=r"grid observations \[H, W, C\]"):
        trainer_for("ipd", network={"torso": "cnn"})
    with pytest.raises(ValueError, match="final_obs=True"):
        trainer_for("ipd", bootstrap_truncated=True)


def test_reward_mean_is_the_reward_earned_without_the_bootstrap_value():
    # A 4-round IPD and 8 steps per update: every step belongs to an episode that ends (by
    # the time limit) within the update, so the mean reward per step the env paid is the
    # mean episode return / 4. The bootstrap gamma * V(final obs) of each episode's last
    # step drives the advantages only; the critic learns fast (lr) so V is far from 0.
    env, params = marl.make("ipd", horizon=4, final_obs=True)
    trainer = algos.make(
        {**FAST, "bootstrap_truncated": True, "lr": 0.03}, marl.EpisodeStats(env), params
    )
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    for _ in range(4):
        state, metrics = update(state)
        assert float(metrics["episodes"]) == 2 * FAST["num_envs"]
        earned = float(metrics["episode/episode_return"] / metrics["episodes"]) / 4
        assert float(metrics["reward_mean"]) == pytest.approx(earned, rel=1e-5)

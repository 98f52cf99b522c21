"""Advantage Alignment: the aligned advantage, the leave-one-out baseline, the reductions
to policy gradient / PPO at beta = 0, config errors, and a tiny IPD learning check."""

from functools import partial

import distrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl import algos
from marl.algos.advantage_alignment import (
    aligned_advantages,
    discounted_returns,
    leave_one_out,
    others_sum,
)
from marl.algos.ppo import Rollout
from marl.config import ConfigError

# A 5-step trajectory whose episode restarts at step 3; agent 0's advantages and the sum
# of its co-players' advantages at each step.
OWN = [1.0, 2.0, 4.0, -1.0, 3.0]
OTHERS = [0.5, -1.0, 2.0, 2.0, 1.0]
RESETS = [True, False, False, True, False]


def test_paper_form_matches_a_hand_computation():
    # gamma = 0.5, beta = 2: A*_t = A_t + 2 * 0.5 * (sum_{k<t} 0.5^(t-k) A_k) * A2_t
    expected = [
        1.0,  # nothing before step 0
        2.0 + 1.0 * (0.5 * 1.0) * -1.0,
        4.0 + 1.0 * (0.25 * 1.0 + 0.5 * 2.0) * 2.0,
        -1.0,  # a new episode: the sum restarts
        3.0 + 1.0 * (0.5 * -1.0) * 1.0,
    ]
    got = aligned_advantages(
        jnp.array(OWN), jnp.array(OTHERS), jnp.array(RESETS), 2.0, 0.5, "paper"
    )
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_n_player_form_matches_a_hand_computation_with_three_agents():
    # Agents 1 and 2 split OTHERS between them; w = 2: A* = A + 2 * mean(past A) * sum A^j.
    a1 = np.array([0.25, -1.5, 1.0, 0.0, 0.5])
    advantages = jnp.stack([jnp.array(OWN), a1, jnp.array(OTHERS) - a1], axis=1)  # [T, 3]
    others = others_sum(advantages[..., None], axis=1)  # [T, 3, 1 env]
    resets = jnp.array(RESETS)[:, None, None]
    got = aligned_advantages(advantages[..., None], others, resets, 2.0, 0.99, "n_player")
    expected = [
        1.0,
        2.0 + 2.0 * (1.0 / 1) * -1.0,
        4.0 + 2.0 * ((1.0 + 2.0) / 2) * 2.0,
        -1.0,
        3.0 + 2.0 * (-1.0 / 1) * 1.0,
    ]
    np.testing.assert_allclose(got[:, 0, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(others[:, 0, 0], OTHERS, rtol=1e-6)


def test_leave_one_out_baseline_excludes_the_rollout_itself():
    returns = jnp.array([[1.0, 2.0, 3.0, 6.0]])  # [T=1, 4 envs]
    adv = leave_one_out(returns, axis=1)
    np.testing.assert_allclose(adv[0], [1 - 11 / 3, 2 - 10 / 3, 3 - 9 / 3, 6 - 6 / 3], rtol=1e-6)
    # Raising one rollout's return moves its own advantage by all of it: its baseline
    # does not contain it; each other rollout's baseline rises by a third of it.
    moved = leave_one_out(returns.at[0, 0].add(3.0), axis=1) - adv
    np.testing.assert_allclose(moved[0], [3.0, -1.0, -1.0, -1.0], rtol=1e-6)


def test_returns_to_go_restart_at_episode_ends_without_bootstrap():
    rewards = jnp.ones((4, 1))
    dones = jnp.array([[False], [True], [False], [False]])
    np.testing.assert_allclose(discounted_returns(rewards, dones, 0.5)[:, 0], [1.5, 1, 1.5, 1])


def synthetic_rollout(steps=6, agents=2, envs=3):
    """A hand-made rollout (no env, no compile): an episode ends at step 3."""
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    shape = (steps, agents, envs)
    dones = jnp.zeros((steps, envs), bool).at[3].set(True)
    return Rollout(
        obs=jnp.zeros((*shape, 5)),
        critic_obs=None,
        actions=jax.random.randint(keys[0], shape, 0, 2),
        log_probs=jnp.zeros(shape),
        values=jax.random.normal(keys[1], shape),
        rewards=jax.random.normal(keys[2], shape),
        dones=dones,
        resets=jnp.zeros_like(dones).at[0].set(True).at[4].set(True),
        coplayer_slot=jnp.full((steps, envs), -1, jnp.int32),
    )


def test_beta_zero_aa_is_the_policy_gradient_and_paa_is_ppo_loss_for_loss():
    env, params = marl.make("ipd")
    ppo, aa, paa, aligned = (
        algos.make({"name": name, "num_minibatches": 1, **extra}, env, params)
        for name, extra in [("ppo", {}), ("aa", {"beta": 0.0}), ("paa", {"beta": 0.0}), ("aa", {})]
    )
    rollout, last_value = synthetic_rollout(), jnp.ones((2, 3))
    base, targets = ppo.advantages(rollout, last_value)
    learns = ppo.learns(rollout.coplayer_slot)
    expected = ppo.minibatch_advantages(base, learns)  # one minibatch: the whole batch
    for trainer in (aa, paa):
        adv, trainer_targets = trainer.advantages(rollout, last_value)
        np.testing.assert_allclose(trainer.minibatch_advantages(adv, learns), expected, atol=1e-5)
        np.testing.assert_allclose(trainer_targets, targets)
    assert not np.allclose(aligned.advantages(rollout, last_value)[0], expected, atol=1e-3)

    logits = jax.random.normal(jax.random.PRNGKey(2), (*rollout.actions.shape, 2))
    log_prob = lambda lg: distrax.Categorical(logits=lg).log_prob(rollout.actions)
    old = log_prob(logits)

    def loss(trainer, lg):
        return trainer.policy_loss(log_prob(lg), old, expected).mean()

    # At the rollout's own policy (ratio 1) PPO's surrogate has the policy gradient's
    # gradient; PAA's loss is PPO's everywhere, also away from it (ratios clipped).
    grad = lambda trainer, lg: jax.grad(partial(loss, trainer))(lg)
    np.testing.assert_allclose(grad(aa, logits), grad(ppo, logits), atol=1e-7)
    moved = logits + jax.random.normal(jax.random.PRNGKey(3), logits.shape)
    np.testing.assert_allclose(loss(paa, moved), loss(ppo, moved), rtol=1e-6)
    np.testing.assert_allclose(grad(paa, moved), grad(ppo, moved), atol=1e-7)


def test_beta_zero_paa_updates_exactly_as_ppo():
    def updated_params(name, **algo):
        env, params = marl.make("ipd", horizon=4)
        config = {"name": name, "num_envs": 4, "num_steps": 8, "num_minibatches": 1, **algo}
        config["update_epochs"] = 2  # several epochs: the clipping acts
        trainer = algos.make(config, marl.EpisodeStats(env), params)
        state, _ = jax.jit(trainer.update)(jax.jit(trainer.init)(jax.random.PRNGKey(0)))
        return state.params

    assert_same_params(updated_params("paa", beta=0.0), updated_params("ppo"))


def assert_same_params(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


def ipd_self_play(beta):
    """(start, end) states and the reward per step of the last updates of a short AA
    self-play run with the group-relative baseline."""
    env, params = marl.make("ipd", horizon=8)
    config = {"name": "aa", "num_envs": 64, "num_steps": 8, "beta": beta}
    trainer = algos.make({**config, "baseline": "leave_one_out"}, marl.EpisodeStats(env), params)
    train = jax.jit(lambda s: jax.lax.scan(lambda s, _: trainer.update(s), s, None, length=40))
    start = jax.jit(trainer.init)(jax.random.PRNGKey(0))  # one program for both betas
    end, metrics = train(start)
    return start, end, float(metrics["reward_mean"][-5:].mean())


def test_alignment_turns_ipd_self_play_from_defection_to_reciprocity():
    _, _, naive = ipd_self_play(0.0)
    start, end, aligned = ipd_self_play(1.0)
    assert naive < -1.9  # mutual defection pays -2 per step
    assert aligned > -1.5
    # The group-relative baseline needs no critic: it is never trained.
    assert_same_params(end.params["critic"], start.params["critic"])


@pytest.mark.parametrize(
    "override, match",
    [
        ({"beta": -1.0}, r"algo.beta=-1.0 .* >= 0"),
        ({"form": "pairwise"}, r"algo.form='pairwise' .* auto \| paper \| n_player"),
        ({"baseline": "mean"}, r"algo.baseline='mean' .* gae \| leave_one_out"),
        ({"baseline": "leave_one_out", "num_envs": 1}, r"algo.num_envs=1 .* leave-one-out"),
        ({"baseline": "leave_one_out", "bootstrap_truncated": True}, r"no critic"),
    ],
)
def test_bad_config_values_fail_naming_the_key(override, match):
    env, params = marl.make("ipd")
    with pytest.raises(ConfigError, match=match):
        algos.make({"name": "aa", **override}, env, params)

"""Training beside a pool of scripted co-players (`algo.coplayers`, PPO and AA/PAA)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl import algos
from marl.config import ConfigError
from marl.envs.coin_game import nearest_coin_policy
from tests.training import rows, run

FAST = {"num_envs": 6, "num_steps": 10, "num_minibatches": 2, "update_epochs": 1}
DEFECTORS = {"pool": ["always_defect"], "prob": 1.0}


def coin_trainer(name="ppo", coplayers=DEFECTORS, **algo):
    env, params = marl.make("coin_game", episode_length=5)
    config = {"name": name, **FAST, "coplayers": coplayers, **algo}
    return algos.make(config, marl.EpisodeStats(env), params)


def rollout_of(trainer, seed=0):
    state = jax.jit(trainer.init)(jax.random.PRNGKey(seed))
    return jax.jit(trainer._rollout)(state)


@pytest.mark.parametrize(
    "coplayers, message",
    [
        ({"pool": ["always_defect"], "prob": 1.5}, "algo.coplayers.prob"),
        ({"pool": [], "prob": 0.5}, "algo.coplayers.pool"),
        ({"pool": ["grim"], "prob": 0.5}, "algo.coplayers.pool"),
        ({"pool": ["tit_for_tat"], "prob": 0.5}, "needs one of: MatrixGame"),
        ({"pool": ["always_defect"], "prob": 0.5, "size": 3}, "unknown key algo.coplayers.size"),
        ({"past": -1}, "algo.coplayers.past"),
        ({"past": 2, "past_every": 0}, "algo.coplayers.past_every"),
    ],
)
def test_bad_pools_fail_before_compiling(coplayers, message):
    with pytest.raises(ConfigError, match=message):
        coin_trainer(coplayers=coplayers)


def test_pool_coplayers_play_one_learning_slot_for_whole_episodes():
    trainer = coin_trainer()
    _, rollout, *_ = rollout_of(trainer)
    slot = np.asarray(rollout.coplayer_slot)  # [T, E]
    assert set(np.unique(slot)) <= {0, 1}  # prob 1: every episode has one, in either slot
    assert len(np.unique(slot)) == 2
    starts = np.asarray(rollout.resets)
    for e in range(slot.shape[1]):  # constant inside each episode
        episode = np.cumsum(starts[:, e])
        for k in np.unique(episode):
            assert len(np.unique(slot[episode == k, e])) == 1
    # That slot's action is the bot's choice for its observation, at every step.
    obs, actions = np.asarray(rollout.obs), np.asarray(rollout.actions)  # [T, A, E, ...]
    t, e = np.indices(slot.shape)
    bot = jax.vmap(nearest_coin_policy)(jnp.asarray(obs[t, slot, e].reshape(-1, *obs.shape[3:])))
    np.testing.assert_array_equal(actions[t, slot, e].reshape(-1), np.asarray(bot))


def test_no_pool_leaves_every_slot_to_the_learners():
    trainer = coin_trainer(coplayers={"pool": ["always_defect"], "prob": 0.0})
    _, rollout, *_ = rollout_of(trainer)
    assert (np.asarray(rollout.coplayer_slot) == -1).all()
    np.testing.assert_array_equal(trainer.learns(rollout.coplayer_slot), 1.0)


@pytest.mark.parametrize("name", ["ppo", "paa"])
def test_the_pool_coplayers_samples_do_not_reach_the_loss(name):
    trainer = coin_trainer(name)
    state, rollout, _, last_value, hidden0 = rollout_of(trainer)
    advantages, targets = trainer.advantages(rollout, last_value)
    grad = jax.jit(jax.grad(lambda p, r: trainer._loss(p, (r, advantages, targets), hidden0)[0]))
    before = grad(state.params, rollout)

    slot = rollout.coplayer_slot[:, None, :]
    agents = jnp.arange(2)[None, :, None]
    flipped = (rollout.actions + 1) % 5
    for theirs, same in ((slot == agents, True), (slot != agents, False)):
        changed = rollout.replace(actions=jnp.where(theirs, flipped, rollout.actions))
        after = grad(state.params, changed)
        close = jax.tree.map(lambda a, b: np.allclose(a, b, atol=1e-6), before, after)
        assert all(jax.tree.leaves(close)) == same


def test_no_alignment_term_beside_a_pool_coplayer():
    # With half the episodes played beside a bot, the aligned advantage equals the plain
    # (whitened) one exactly there, and differs from it elsewhere.
    trainer = coin_trainer("paa", coplayers={"pool": ["always_defect"], "prob": 0.5}, beta=2.0)
    plain = coin_trainer("paa", coplayers={"pool": ["always_defect"], "prob": 0.5}, beta=0.0)
    _, rollout, _, last_value, _ = rollout_of(trainer, seed=3)
    aligned, _ = trainer.advantages(rollout, last_value)
    base, _ = plain.advantages(rollout, last_value)
    with_bot = np.broadcast_to(np.asarray(rollout.coplayer_slot >= 0)[:, None, :], aligned.shape)
    assert with_bot.any() and (~with_bot).any()
    np.testing.assert_allclose(np.asarray(aligned)[with_bot], np.asarray(base)[with_bot])
    assert not np.allclose(np.asarray(aligned)[~with_bot], np.asarray(base)[~with_bot])


@pytest.mark.parametrize(
    "pool",
    [
        ["algo.coplayers.pool=[always_defect,always_cooperate]"],
        ["algo.coplayers.past=3", "algo.coplayers.past_every=1"],  # copies from update 1
    ],
)
def test_marl_train_reports_rewards_beside_and_without_the_pool(tmp_path, pool):
    run_dir = run(
        tmp_path,
        "env=coin_game",
        "algo=paa",
        "algo.num_envs=8",
        "algo.num_steps=16",
        *pool,
        "algo.coplayers.prob=0.5",
        "total_steps=1024",
        "num_chunks=2",
    )
    last = rows(run_dir)[-1]
    assert 0.2 < last["coplayers/share"] < 0.8
    assert np.isfinite(last["coplayers/reward_vs_pool"])
    assert np.isfinite(last["coplayers/reward_without"])


# ---- past copies of the learners (an agent replay buffer) ---------------------------------
PAST = {"pool": [], "prob": 1.0, "past": 2, "past_every": 2}


def test_copies_of_the_actors_are_taken_every_few_updates_oldest_replaced_first():
    trainer = coin_trainer(coplayers=PAST)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    actors = []
    for _ in range(6):
        state, _ = update(state)
        actors.append(state.params["actor"])
    assert int(state.past_filled) == 3  # after updates 2, 4 and 6
    for index, update_number in ((0, 6), (1, 4)):  # copy 3 replaced copy 1 in slot 0
        copy = jax.tree.map(lambda c, i=index: c[i], state.past)
        same = jax.tree.map(np.array_equal, copy, actors[update_number - 1])
        assert all(jax.tree.leaves(same))


def test_without_copies_or_scripted_policies_the_pool_is_empty_and_all_is_self_play():
    _, rollout, *_ = rollout_of(coin_trainer(coplayers=PAST))
    assert (np.asarray(rollout.coplayer_slot) == -1).all()


@pytest.mark.parametrize("gru", [0, 8])
def test_a_past_copy_plays_its_slot_with_its_own_parameters(gru):
    trainer = coin_trainer(coplayers={**PAST, "past": 1}, network={"gru": gru})
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    # A copy whose output layer always picks action 2 ("south"); the learners do not.
    copy = jax.tree.map(lambda p: p[None], state.params["actor"])
    bias = copy["params"]["Dense_0"]["bias"]
    copy["params"]["Dense_0"]["bias"] = bias.at[..., 2].set(100.0)
    state = state.replace(past=copy, past_filled=jnp.asarray(1, jnp.int32))
    _, rollout, *_ = jax.jit(trainer._rollout)(state)
    slot = np.asarray(rollout.coplayer_slot)
    assert (slot >= 0).all()  # prob 1: every episode has one
    actions = np.asarray(rollout.actions)
    t, e = np.indices(slot.shape)
    assert (actions[t, slot, e] == 2).all()
    assert (actions[t, 1 - slot, e] != 2).any()

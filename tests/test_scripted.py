"""Scripted policies read the memory-1 observation correctly."""

import jax
import jax.numpy as jnp
import pytest

import marl
from marl.scripted import scripted_policy

START, CC, CD, DC, DD = range(5)


@pytest.mark.parametrize("state, expected", [(START, 0), (CC, 0), (CD, 1), (DC, 0), (DD, 1)])
def test_tit_for_tat_copies_the_opponents_last_action(state, expected):
    env, _ = marl.make("ipd")
    policy = scripted_policy("tit_for_tat", env)
    assert int(policy(jax.random.PRNGKey(0), jnp.eye(5)[state])) == expected


def test_tit_for_tat_in_the_game_mirrors_the_other_player():
    env, params = marl.make("ipd")
    policy = scripted_policy("tit_for_tat", env)
    obs, state = env.reset(jax.random.PRNGKey(0), params)
    moves = [0, 1, 1, 0, 1]
    replies = []
    for t, move in enumerate(moves):
        reply = policy(jax.random.PRNGKey(t), obs[1])  # player 2 is tit-for-tat
        replies.append(int(reply))
        obs, state, *_ = env.step(jax.random.PRNGKey(t), state, jnp.array([move, reply]), params)
    assert replies == [0, *moves[:-1]]


def test_fixed_and_random_policies():
    env, _ = marl.make("spgg", levels=3)
    obs = jnp.zeros(7)
    draws = {int(scripted_policy("random", env)(jax.random.PRNGKey(i), obs)) for i in range(50)}
    assert draws == {0, 1, 2, 3}
    ipd, _ = marl.make("ipd")
    assert int(scripted_policy("always_defect", ipd)(None, jnp.eye(5)[CC])) == 1
    assert int(scripted_policy("always_cooperate", ipd)(None, jnp.eye(5)[DD])) == 0


def test_unknown_or_unfit_policy_is_refused():
    env, _ = marl.make("spgg")
    with pytest.raises(ValueError, match="unknown scripted policy 'grim'; choose from"):
        scripted_policy("grim", env)
    with pytest.raises(ValueError, match="tit_for_tat.*needs one of: MatrixGame"):
        scripted_policy("tit_for_tat", env)


def test_public_goods_cooperators_contribute_everything_and_defectors_nothing():
    env, params = marl.make("spgg", levels=4)
    obs = jnp.zeros(env.observation_space(params).shape)
    assert int(scripted_policy("always_cooperate", env)(None, obs)) == 4  # contribution 1
    assert int(scripted_policy("always_defect", env)(None, obs)) == 0

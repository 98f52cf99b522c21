"""Property tests (hypothesis): invariants under arbitrary actions, params and keys."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import marl
from marl.envs.matrix import PAYOFFS

SETTINGS = settings(max_examples=25, deadline=None)

_matrix_steps = {}


def _matrix_step(name):
    if name not in _matrix_steps:
        env, params = marl.make(name, horizon=1000)
        _matrix_steps[name] = (env, params, jax.jit(env.step))
    return _matrix_steps[name]


@SETTINGS
@given(
    name=st.sampled_from(sorted(PAYOFFS)),
    actions=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=8),
)
def test_matrix_rewards_within_payoff_bounds_and_observations_one_hot(name, actions):
    env, params, step = _matrix_step(name)
    table = np.asarray(params.payoff)
    _, state = env.reset(jax.random.key(0), params)
    for t, (a1, a2) in enumerate(actions):
        obs, state, reward, _, _ = step(jax.random.key(t), state, jnp.array([a1, a2]), params)
        for player in range(2):
            assert table[..., player].min() <= float(reward[player]) <= table[..., player].max()
        obs = np.asarray(obs)
        assert set(np.unique(obs)) <= {0.0, 1.0}
        np.testing.assert_array_equal(obs.sum(-1), [1, 1])
        assert obs[0].argmax() == 1 + 2 * a1 + a2  # the state seen is the round just played


_spd = marl.make("spatial_pd", size=6)
_spd_step = jax.jit(_spd[0].step)


@SETTINGS
@given(
    bits=st.lists(st.integers(0, 1), min_size=36, max_size=36),
    dilemma=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_spatial_pd_rewards_bounded_by_sucker_and_temptation(bits, dilemma, seed):
    env, params = _spd
    params = params.replace(dilemma=jnp.asarray(dilemma, jnp.float32))
    _, state = env.reset(jax.random.key(seed), params)
    obs, state, reward, _, _ = _spd_step(jax.random.key(seed), state, jnp.array(bits), params)
    reward = np.asarray(reward)
    assert reward.min() >= -dilemma - 1e-6 and reward.max() <= 1 + dilemma + 1e-6
    # a cooperator never earns more than R = 1, a defector never less than P = 0
    assert (reward[np.array(bits) == 0] <= 1 + 1e-6).all()
    assert (reward[np.array(bits) == 1] >= -1e-6).all()
    assert set(np.unique(np.asarray(obs))) <= {0.0, 1.0}


_spgg_cache = {}


@SETTINGS
@given(
    n=st.integers(2, 5),
    levels=st.integers(1, 4),
    mode=st.sampled_from(["classic", "mac"]),
    seed=st.integers(0, 2**31 - 1),
    data=st.data(),
)
def test_spgg_rewards_within_analytic_bounds_and_exactly_one_mover(n, levels, mode, seed, data):
    if (n, levels, mode) not in _spgg_cache:
        env, params = marl.make("spgg", num_agents=n, levels=levels, reward_mode=mode)
        _spgg_cache[(n, levels, mode)] = (env, params, jax.jit(env.step))
    env, params, step = _spgg_cache[(n, levels, mode)]
    actions = data.draw(st.lists(st.integers(0, levels), min_size=n, max_size=n))
    _, state = env.reset(jax.random.key(seed), params)
    total = np.zeros(n)
    for t in range(n):
        obs, state, reward, done, info = step(
            jax.random.key(seed + t), state, jnp.array(actions), params
        )
        assert int(np.asarray(info["acting"]).sum()) == 1
        total += np.asarray(reward)
    assert bool(done)
    p = params
    if mode == "classic":
        low, high = 0.0, 1.0 + float(p.r)  # 1 - c + r S / n with c, S / n in [0, 1]
    else:
        low = -float(p.kappa) - float(p.penalty)
        high = float(p.gamma) + float(p.rho)
    assert (total >= low - 1e-5).all() and (total <= high + 1e-5).all()


@SETTINGS
@given(name=st.sampled_from(["ipd", "spgg", "spatial_pd"]), seed=st.integers(0, 2**31 - 1))
def test_same_key_gives_the_same_step(name, seed):
    env, params = marl.make(name, **({"size": 4} if name == "spatial_pd" else {}))
    key = jax.random.key(seed)
    _, state = env.reset(key, params)
    actions = jnp.ones(env.num_agents, jnp.int32)
    first = env.step(key, state, actions, params)
    second = env.step(key, state, actions, params)
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True):
        np.testing.assert_array_equal(a, b)

"""Sequential public goods: turn order, observations, both reward modes, and the SPNE."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.spgg import public_goods_payoffs
from marl.envs.spgg_solver import distance_to_spne, solve_spne


def play_round(env, params, levels_by_agent, seed=0):
    """Each agent plays its level on its turn; returns per-step (obs, reward, done, info)."""
    _, state = env.reset(jax.random.key(seed), params)
    actions = jnp.asarray(levels_by_agent, jnp.int32)
    out = []
    for t in range(env.num_agents):
        obs, state, reward, done, info = env.step(jax.random.key(seed + t), state, actions, params)
        out.append((obs, reward, done, info))
    return out


def test_classic_payoff_is_one_minus_contribution_plus_shared_pot():
    env, params = marl.make("spgg", reward_mode="classic", levels=2, r=1.8)
    steps = play_round(env, params, [2, 1, 0])  # contributions 1, 0.5, 0
    total = 1.5
    expected = [1 - c + 1.8 / 3 * total for c in (1.0, 0.5, 0.0)]
    np.testing.assert_allclose(steps[-1][1], expected, rtol=1e-6)


def test_mac_payoff_hand_computed_with_linear_cost():
    env, params = marl.make(
        "spgg", levels=2, kappa=1.0, gamma=1.5, rho=1.8, threshold=2.55, penalty=1.5
    )
    steps = play_round(env, params, [2, 1, 2])  # contributions 1, 0.5, 1: S = 2.5 < B
    s, n = 2.5, 3
    m = [0.0, 1.0, 0.75]  # mean of predecessors' contributions
    c = [1.0, 0.5, 1.0]
    expected = [-ci + 1.5 * ci * mi + 1.8 / n * s - 1.5 for ci, mi in zip(c, m, strict=True)]
    np.testing.assert_allclose(steps[-1][1], expected, rtol=1e-5)


def test_mac_quadratic_cost_and_no_penalty_at_the_threshold():
    env, params = marl.make("spgg", levels=1, cost="quadratic", threshold=3.0, kappa=2.0)
    steps = play_round(env, params, [1, 1, 1])
    # cost 2 * 1 / 2 = 1; bonus gamma * 1 * 1 except the first mover; S = B: no penalty
    expected = [-1 + 0 + 1.8, -1 + 1.5 + 1.8, -1 + 1.5 + 1.8]
    np.testing.assert_allclose(steps[-1][1], expected, rtol=1e-5)
    assert bool(steps[-1][3]["threshold_met"])


def test_rewards_arrive_only_at_the_last_step_and_the_episode_then_ends():
    env, params = marl.make("spgg")
    steps = play_round(env, params, [1, 1, 0])
    assert [bool(s[2]) for s in steps] == [False, False, True]
    np.testing.assert_array_equal(steps[0][1], 0.0)
    np.testing.assert_array_equal(steps[1][1], 0.0)
    assert bool(steps[-1][3]["terminated"]) and not bool(steps[-1][3]["truncated"])


def test_only_the_agent_whose_turn_it_is_acts():
    env, params = marl.make("spgg", reward_mode="classic")
    steps = play_round(env, params, [0, 1, 0])
    acting = np.stack([np.asarray(s[3]["acting"]) for s in steps])
    np.testing.assert_array_equal(acting, np.eye(3, dtype=bool))
    contributed = np.stack([np.asarray(s[3]["contribution"]) for s in steps]).sum(0)
    np.testing.assert_array_equal(contributed, [0, 1, 0])


def test_full_observation_shows_all_predecessors_and_position():
    env, params = marl.make("spgg", levels=2, num_agents=4)
    steps = play_round(env, params, [2, 1, 0, 2])
    obs = np.asarray(steps[2][0])  # after 3 moves; position 3 is to move
    n = 4
    np.testing.assert_array_equal(obs[:, :n], np.eye(n))
    np.testing.assert_array_equal(obs[:, n], [0, 0, 0, 1])  # whose turn
    np.testing.assert_allclose(obs[3, n + 1 :], [1.0, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(obs[1, n + 1 :], [1.0, 0.0, 0.0, 0.0])  # sees only agent 0
    np.testing.assert_allclose(obs[0, n + 1 :], 0.0)


def test_partial_observation_shows_only_the_immediate_predecessor():
    env, params = marl.make("spgg", levels=2, num_agents=4, observation="partial")
    steps = play_round(env, params, [2, 1, 0, 2])
    obs = np.asarray(steps[1][0])  # after 2 moves
    assert obs.shape == (4, 4 + 2)
    np.testing.assert_allclose(obs[:, -1], [0.0, 1.0, 0.5, 0.0])


def test_shuffled_order_is_a_permutation_drawn_per_episode():
    env, params = marl.make("spgg", num_agents=5, shuffle_order=True)
    orders = {tuple(np.asarray(env.init_state(jax.random.key(s), params).order)) for s in range(20)}
    assert len(orders) > 5
    assert all(sorted(o) == list(range(5)) for o in orders)
    fixed_env, fixed = marl.make("spgg", num_agents=5)
    np.testing.assert_array_equal(fixed_env.init_state(jax.random.key(1), fixed).order, range(5))


def test_shuffled_order_pays_by_position_not_by_index():
    env, params = marl.make("spgg", reward_mode="mac", threshold=0.0)
    order = jnp.array([2, 0, 1], jnp.int32)
    state = env.init_state(jax.random.key(0), params)
    state = state.replace(order=order, position=jnp.argsort(order).astype(jnp.int32))
    actions = jnp.ones(3, jnp.int32)
    for t in range(3):
        _, state, reward, done, info = env.step(jax.random.key(100 + t), state, actions, params)
    # first mover (agent 2) gets no reciprocity bonus
    assert float(reward[2]) == pytest.approx(-1 + 1.8)
    assert float(reward[0]) == pytest.approx(-1 + 1.5 + 1.8)


def test_spne_all_contribute_when_penalty_plus_share_exceeds_cost():
    # binary, linear cost kappa, B = n, P + rho / n > kappa
    for n, (kappa, rho, penalty, gamma) in itertools.product(
        (2, 3, 5), [(1.0, 1.8, 1.5, 1.5), (1.0, 0.3, 0.95, 0.0), (2.0, 3.0, 1.5, 0.4)]
    ):
        assert penalty + rho / n > kappa
        env, params = marl.make(
            "spgg", num_agents=n, kappa=kappa, rho=rho, penalty=penalty, gamma=gamma, threshold=n
        )
        spne = solve_spne(env, params)
        assert spne.actions == (1,) * n and spne.unique, (n, kappa, rho, penalty, gamma)


def test_spne_nobody_contributes_without_penalty_or_reciprocity():
    for n, levels in [(2, 1), (3, 1), (5, 1), (3, 10), (5, 4)]:
        env, params = marl.make(
            "spgg", num_agents=n, levels=levels, penalty=0.0, gamma=0.0, rho=0.9 * n * 0.5
        )
        assert float(params.rho) / n < float(params.kappa)
        spne = solve_spne(env, params)
        assert spne.actions == (0,) * n and spne.unique


def test_spne_classic_mode_is_free_riding():
    env, params = marl.make("spgg", reward_mode="classic", levels=4, r=1.8)
    spne = solve_spne(env, params)
    np.testing.assert_array_equal(spne.contributions, 0.0)
    np.testing.assert_allclose(spne.payoffs, 1.0)


def test_spne_is_a_best_response_at_every_position_on_its_path():
    env, params = marl.make("spgg", num_agents=3, levels=3)
    spne = solve_spne(env, params)
    # Brute force: no single deviation by position k, with later positions playing their
    # equilibrium strategy, pays position k more.

    def outcome(history):
        history = list(history)
        for k in range(len(history), 3):
            history.append(int(spne.strategy[k][tuple(history)]))
        c = jnp.asarray(history, jnp.float32) / 3
        return np.asarray(public_goods_payoffs(c, params, env.reward_mode, env.cost))

    for k in range(3):
        prefix = spne.actions[:k]
        on_path = outcome(prefix + (spne.actions[k],))[k]
        for deviation in range(4):
            assert outcome(prefix + (deviation,))[k] <= on_path + 1e-6


def test_spne_solver_refuses_games_too_big_to_enumerate():
    env, params = marl.make("spgg", num_agents=6)
    with pytest.raises(ValueError, match=r"n <= 5 and K <= 10"):
        solve_spne(env, params)


def test_distance_to_spne_is_mean_absolute_gap():
    env, params = marl.make("spgg", threshold=3.0)
    spne = solve_spne(env, params)
    assert spne.actions == (1, 1, 1)
    np.testing.assert_allclose(distance_to_spne([[1, 0, 1], [1, 1, 1]], spne), [1 / 3, 0])


def test_episode_metrics_give_contribution_and_threshold_rates():
    env, params = marl.make("spgg", levels=2, threshold=2.0)
    wrapped = marl.EpisodeStats(env)
    _, state = wrapped.reset(jax.random.key(0), params)
    actions = jnp.array([2, 1, 1], jnp.int32)
    for t in range(3):
        _, state, _, done, info = wrapped.step(jax.random.key(t), state, actions, params)
    summary = marl.episode_summary(env, info["episode"])
    assert float(summary["contribution_rate"]) == pytest.approx(2 / 3)
    assert float(summary["threshold_rate"]) == 1.0

"""Social outcome metrics on hand-computed episodes, including the documented edge cases."""

import jax.numpy as jnp
import numpy as np
import pytest

from marl.metrics import equality, mean_over_episodes, social_outcomes


def episode(returns, length, reward_time_sum, reward_steps, timed_out):
    f = lambda x: jnp.asarray(x, jnp.float32)
    return {
        "returns": f(returns),
        "length": jnp.asarray(length),
        "reward_time_sum": f(reward_time_sum),
        "reward_steps": jnp.asarray(reward_steps, jnp.int32),
        "timed_out": jnp.asarray(timed_out, jnp.int32),
        "events": {},
    }


def test_hand_computed_two_agent_episode():
    # T = 10; agent 0 collected at steps 2 and 4, agent 1 at step 9; agent 1 timed out 3 steps
    out = social_outcomes(episode([2.0, 1.0], 10, [6.0, 9.0], [2, 1], [0, 3]))
    assert float(out["efficiency"]) == pytest.approx(0.3)
    # sum_ij |Ri - Rj| = 2; 1 - 2 / (2 * 2 * 3)
    assert float(out["equality"]) == pytest.approx(1 - 2 / 12)
    assert float(out["sustainability"]) == pytest.approx((3.0 + 9.0) / 2)
    assert float(out["peace"]) == pytest.approx((2 * 10 - 3) / 10)


def test_equality_matches_the_pairwise_definition_for_many_agents():
    returns = np.random.default_rng(0).uniform(0, 5, 17)
    pairwise = np.abs(returns[:, None] - returns[None, :]).sum()
    expected = 1 - pairwise / (2 * 17 * returns.sum())
    assert float(equality(jnp.asarray(returns, jnp.float32))) == pytest.approx(expected, rel=1e-5)


def test_equal_returns_give_equality_one_and_one_winner_gives_one_over_n():
    assert float(equality(jnp.array([3.0, 3.0, 3.0]))) == pytest.approx(1.0)
    assert float(equality(jnp.array([0.0, 0.0, 0.0, 6.0]))) == pytest.approx(0.25)


def test_negative_total_uses_absolute_returns():
    # IPD-like returns: the same spread as (100, 300) gives the same equality
    assert float(equality(jnp.array([-100.0, -300.0]))) == pytest.approx(
        float(equality(jnp.array([100.0, 300.0])))
    )
    value = float(equality(jnp.array([-1.0, 1.0])))  # sum zero, |R| sum 2
    assert value == pytest.approx(1 - 4 / (2 * 2 * 2)) and np.isfinite(value)


def test_mixed_signs_keep_equality_between_zero_and_one():
    value = float(equality(jnp.array([10.0, -9.0])))
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(1 - 2 * 19 / (2 * 2 * 19))


def test_equality_with_negative_returns_is_the_documented_variant_of_the_spec():
    # docs/api.md: Gini = mean |R_i - R_j| / (2 mean |R_i|), the spec's
    # sum_ij |R_i - R_j| / (2 N sum_i R_i) wherever no return is negative.
    returns = np.random.default_rng(1).normal(-1.0, 3.0, (64, 7))  # most rows mixed signs
    assert (returns < 0).any(-1).all() and (returns > 0).any(-1).any()
    mad = np.abs(returns[:, :, None] - returns[:, None, :]).mean((1, 2))
    variant = 1 - mad / (2 * np.abs(returns).mean(-1))
    values = np.asarray(equality(jnp.asarray(returns, jnp.float32)))
    np.testing.assert_allclose(values, variant, rtol=1e-5, atol=1e-6)
    assert ((values >= 0) & (values <= 1)).all()
    np.testing.assert_allclose(values, equality(jnp.asarray(-returns, jnp.float32)), atol=1e-6)
    spec = lambda r: 1 - np.abs(r[:, None] - r[None, :]).sum() / (2 * len(r) * r.sum())
    shifted = returns[0] - returns[0].min()  # non-negative: the spec's formula itself
    assert float(equality(jnp.asarray(shifted, jnp.float32))) == pytest.approx(spec(shifted))
    assert float(equality(jnp.array([0.0, -6.0, 0.0]))) == pytest.approx(1 / 3)


def test_all_zero_returns_count_as_equal():
    assert float(equality(jnp.zeros(4))) == 1.0


def test_agent_that_never_collected_counts_as_the_episode_length():
    out = social_outcomes(episode([0.0, 1.0], 20, [0.0, 5.0], [0, 1], [0, 0]))
    assert float(out["sustainability"]) == pytest.approx((20 + 5) / 2)


def test_metrics_keep_leading_batch_axes():
    batch = episode([[1.0, 1.0], [2.0, 0.0]], [4, 4], [[1, 2], [3, 0]], [[1, 1], [1, 0]], 0)
    batch["timed_out"] = jnp.zeros((2, 2), jnp.int32)
    out = social_outcomes(batch)
    assert out["equality"].shape == (2,)
    np.testing.assert_allclose(out["equality"], [1.0, 0.5])


def test_mean_over_episodes_ignores_unfinished_entries_and_is_nan_when_none_finished():
    values = jnp.array([1.0, 100.0, 3.0])
    assert float(mean_over_episodes(values, jnp.array([True, False, True]))) == 2.0
    assert np.isnan(float(mean_over_episodes(values, jnp.zeros(3, bool))))


def test_step_rates_average_events_over_every_step_and_env():
    import marl
    from marl.metrics import step_rates

    env, _ = marl.make("spgg", num_agents=3)
    info = {
        "returned_episode": jnp.zeros((2, 3), bool),  # [time, env]; env count == agents
        "contribution": jnp.ones((2, 3, 3)),
        "threshold_met": jnp.array([[True, False, False], [False, False, False]]),
    }
    rates = step_rates(env, info)
    assert float(rates["step/contribution_rate"]) == 1.0
    assert float(rates["step/threshold_rate"]) == pytest.approx(1 / 6)

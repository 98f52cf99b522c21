"""Exact naive learners and LOLA on the IPD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training import config, rows, run

import marl
from marl.algos.lola import lola_step
from marl.envs.matrix import exact_values
from marl.train import setup

GAMMA = 0.96


def test_lola_update_equals_the_formula_with_an_explicit_jacobian():
    payoff = marl.make("ipd")[1].payoff
    t1 = jax.random.normal(jax.random.PRNGKey(0), (5,))
    t2 = jax.random.normal(jax.random.PRNGKey(1), (5,))
    lr, eta = 0.3, 0.7
    v = lambda a, b, i: exact_values(a, b, payoff, GAMMA)[i] / (1 - GAMMA)
    grad_2_v2 = lambda a, b: jax.grad(v, 1)(a, b, 1)
    # d(grad_2 V_2)/d theta_1: [5 (theta_2), 5 (theta_1)]
    cross = jax.jacfwd(grad_2_v2, 0)(t1, t2)
    expected_1 = t1 + lr * (jax.grad(v, 0)(t1, t2, 0) + eta * cross.T @ jax.grad(v, 1)(t1, t2, 0))
    cross_2 = jax.jacfwd(lambda a, b: jax.grad(v, 0)(a, b, 0), 1)(t1, t2)
    expected_2 = t2 + lr * (jax.grad(v, 1)(t1, t2, 1) + eta * cross_2.T @ jax.grad(v, 0)(t1, t2, 1))
    new_1, new_2 = lola_step(t1, t2, payoff, GAMMA, lr, eta)
    np.testing.assert_allclose(new_1, expected_1, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_2, expected_2, rtol=1e-4, atol=1e-5)


def test_naive_step_is_plain_gradient_ascent_on_own_value():
    payoff = marl.make("ipd")[1].payoff
    t1, t2 = jnp.zeros(5), jnp.ones(5)
    new_1, new_2 = lola_step(t1, t2, payoff, GAMMA, 0.5, 1.0, ("naive", "naive"))
    v = lambda a, b, i: exact_values(a, b, payoff, GAMMA)[i] / (1 - GAMMA)
    np.testing.assert_allclose(new_1, t1 + 0.5 * jax.grad(v, 0)(t1, t2, 0), rtol=1e-5)
    np.testing.assert_allclose(new_2, t2 + 0.5 * jax.grad(v, 1)(t1, t2, 1), rtol=1e-5)


@pytest.mark.parametrize("learners", [("naive", "naive"), ("lola", "lola")])
def test_lola_ipd_headlines(tmp_path, learners):
    out = run(
        tmp_path,
        "+experiment=lola_ipd",
        f"algo.learners=[{learners[0]},{learners[1]}]",
        "num_chunks=4",
    )
    last = rows(out)[-1]
    if learners == ("naive", "naive"):
        assert last["reward_mean"] < -1.95  # mutual defection
    else:
        assert -1.15 <= last["reward_mean"] <= -1.0
        for agent in ("agent0", "agent1"):  # tit-for-tat-like
            assert last[f"{agent}/p_cooperate_CC"] > 0.8 and last[f"{agent}/p_cooperate_DC"] > 0.7
            assert last[f"{agent}/p_cooperate_CD"] < 0.35 and last[f"{agent}/p_cooperate_DD"] < 0.3


def test_lola_needs_a_matrix_game_and_valid_learners(tmp_path):
    with pytest.raises(ValueError, match="a matrix game"):
        setup(config(f"run_dir={tmp_path}", "algo=lola", "env=spgg"))
    with pytest.raises(ValueError, match="two of naive, lola"):
        setup(config(f"run_dir={tmp_path}", "algo=lola", "env=ipd", "algo.learners=[lola,greedy]"))

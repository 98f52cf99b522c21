"""LOLA-DiCE: the DiCE objective, its shaped gradient against exact LOLA, the driver."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training import config, rows, run

import marl
from marl.algos.lola_dice import LOLADiCE, LOLADiCEConfig, dice_objective, discounted_returns
from marl.config import ConfigError
from marl.envs.matrix import exact_values
from marl.evaluation.crossplay import evaluate
from marl.networks import NetworkConfig
from marl.train import setup


def test_dice_objective_is_the_discounted_return_per_episode_with_restarts():
    gamma = 0.5
    rewards = jnp.array([[1.0], [2.0], [4.0], [8.0]])
    first = jnp.array([[True], [False], [True], [False]])  # two episodes of two steps
    logp = jnp.log(jnp.full((4, 1), 0.5))
    value = dice_objective(logp, logp, rewards, jnp.ones_like(rewards), first, gamma)
    # (1 + 0.5 * 2 + 4 + 0.5 * 8) / 2 episodes; the baseline term is 0 in value.
    np.testing.assert_allclose(value, 5.0)
    returns = discounted_returns(rewards[:, 0], first[:, 0], gamma)
    np.testing.assert_allclose(returns, [2.0, 2.0, 8.0, 8.0])


def test_dice_gradient_is_the_score_function_gradient():
    """d/dtheta of the surrogate = sum_t r_t * sum_{k<=t} d log p_k (one episode, gamma 1)."""
    rewards = jnp.array([1.0, -2.0, 3.0])[:, None]
    first = jnp.array([True, False, False])[:, None]

    def surrogate(theta):
        logp = jnp.log(jax.nn.sigmoid(theta))[:, None]  # d log p / d theta_t = 1 - p_t
        return dice_objective(
            logp, jnp.zeros_like(logp), rewards, jnp.zeros_like(rewards), first, 1.0
        )

    theta = jnp.array([0.3, -0.2, 0.5])
    score = 1 - jax.nn.sigmoid(theta)
    expected = score * jnp.array([1.0 - 2.0 + 3.0, -2.0 + 3.0, 3.0])  # reward-to-go
    np.testing.assert_allclose(jax.grad(surrogate)(theta), expected, rtol=1e-6)


def _table(theta):
    """Network params whose logits on one-hot IPD observations are [theta_s, 0]."""
    kernel = jnp.stack([jnp.asarray(theta, jnp.float32), jnp.zeros(5)], 1)
    return {"params": {"Dense_0": {"kernel": kernel, "bias": jnp.zeros(2)}}}


def _cooperation_logit(params):
    kernel, bias = params["params"]["Dense_0"]["kernel"], params["params"]["Dense_0"]["bias"]
    return kernel[:, 0] + bias[0] - kernel[:, 1] - bias[1]


def test_shaped_gradient_agrees_in_expectation_with_exact_lola():
    """The sampled LOLA-DiCE gradient (lookahead 1) against the exact gradient of
    V_1(theta_1, theta_2 + inner_lr * grad_2 V_2) from the IPD's exact values."""
    horizon = 150  # gamma^150 = 0.002: the finite episode is the discounted infinite game
    env, params = marl.make("ipd", horizon=horizon)
    c = LOLADiCEConfig(
        num_envs=2048, rollout_length=horizon, baseline=False, network=NetworkConfig(hidden=())
    )
    algo = LOLADiCE(c, env, params)
    values = algo.init(jax.random.PRNGKey(0)).value
    rng = np.random.default_rng(0)
    thetas = tuple(_table(rng.normal(size=5)) for _ in range(2))

    scale = 1 / (1 - c.gamma)  # exact_values is per step; DiCE sums discounted rewards
    value = lambda a, b, i: (
        scale
        * exact_values(_cooperation_logit(a), _cooperation_logit(b), params.payoff, c.gamma)[i]
    )

    def looked_ahead(a):
        step = jax.grad(lambda b: value(a, b, 1))(thetas[1])
        return value(a, jax.tree.map(lambda p, g: p + c.inner_lr * g, thetas[1], step), 0)

    flat = lambda g: np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)])
    exact = flat(jax.grad(looked_ahead)(thetas[0]))
    naive = flat(jax.grad(lambda a: value(a, thetas[1], 0))(thetas[0]))

    @jax.jit
    def estimate(key):
        key_play, key_shape = jax.random.split(key)
        played, _ = algo.sample(key_play, thetas)
        return algo.shaped_gradient(0, key_shape, thetas, values, played)

    mean = np.mean([flat(estimate(jax.random.PRNGKey(i))) for i in range(8)], 0)
    error = np.linalg.norm(mean - exact) / np.linalg.norm(exact)
    assert error < 0.25, (mean.round(2), exact.round(2))
    # ... and the shaping term is really there: the naive gradient is far from it.
    assert np.linalg.norm(naive - exact) / np.linalg.norm(exact) > 2 * error


def test_bad_settings_fail_before_compile(tmp_path):
    with pytest.raises(ConfigError, match="two-player"):
        setup(config("env=spgg", "algo=lola_dice"))
    with pytest.raises(ConfigError, match="learners"):
        setup(config("env=ipd", "algo=lola_dice", "algo.learners=[lola,naive]"))
    with pytest.raises(ConfigError, match="gru"):
        setup(config("env=ipd", "algo=lola_dice", "algo.network.gru=8"))


def test_coin_game_run_through_the_driver_and_marl_eval(tmp_path):
    out = run(
        tmp_path,
        "env=coin_game",
        "env.args.episode_length=8",
        "algo=lola_dice",
        "algo.num_envs=4",
        "algo.rollout_length=8",
        "algo.network.hidden=[16]",
        "num_seeds=2",
        "total_steps=64",
        "num_chunks=2",
    )
    last = rows(out)[-1]
    assert np.isfinite(last["agent0/reward_per_step"]) and np.isfinite(last["episode_return_mean"])
    result = evaluate(out, steps=16, num_envs=2, out=tmp_path / "eval")
    assert result["columns"][:3] == ["always_cooperate", "always_defect", "random"]
    assert np.isfinite(result["focal_reward_per_step"]).all()

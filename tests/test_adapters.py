"""Adapters to JaxMARL, PettingZoo and gymnax, tested with the real libraries."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training import TINY_IPD, config, rows

import marl
import marl.testing
from marl import registry
from marl.rollout import random_actions
from marl.train import train

jaxmarl = pytest.importorskip("jaxmarl")
pytest.importorskip("pettingzoo")
gymnax_wrappers = pytest.importorskip("gymnax.wrappers.purerl")

from jaxmarl.environments.multi_agent_env import MultiAgentEnv  # noqa: E402
from jaxmarl.wrappers.baselines import LogWrapper  # noqa: E402

from marl.adapters.gymnax import single_agent  # noqa: E402
from marl.adapters.jaxmarl import from_jaxmarl, register_jaxmarl, to_jaxmarl  # noqa: E402
from marl.adapters.pettingzoo import to_pettingzoo  # noqa: E402

STEPS = 24


# ---- marl -> JaxMARL ---------------------------------------------------------------------
def ippo_style_rollout(env, key, num_envs: int, steps: int):
    """How JaxMARL's IPPO drives an env: vmapped reset/step over LogWrapper, per-agent
    dicts batchified into (num_agents x num_envs) arrays, every info leaf reshaped to
    num_actors. Returns the logged returns and the per-step rewards."""
    env = LogWrapper(env)
    num_actors = env.num_agents * num_envs
    key, key_reset = jax.random.split(key)
    obs, state = jax.vmap(env.reset)(jax.random.split(key_reset, num_envs))

    def one_step(carry, step_key):
        obs, state = carry
        batch = jnp.stack([obs[a] for a in env.agents]).reshape(num_actors, -1)
        key_act, key_env = jax.random.split(step_key)
        n = env.action_space(env.agents[0]).n
        flat = jax.random.randint(key_act, (batch.shape[0],), 0, n)
        actions = {a: flat.reshape(env.num_agents, num_envs)[i] for i, a in enumerate(env.agents)}
        keys = jax.random.split(key_env, num_envs)
        obs, state, reward, done, info = jax.vmap(env.step)(keys, state, actions)
        info = jax.tree.map(lambda x: x.reshape(num_actors), info)  # IPPO's reshape
        return (obs, state), (info["returned_episode_returns"], info["returned_episode"], reward)

    _, out = jax.lax.scan(one_step, (obs, state), jax.random.split(key, steps))
    return out


def test_a_marl_env_is_a_jaxmarl_env_that_ippo_style_code_runs_unchanged():
    env, params = marl.make("ipd", horizon=8)
    view = to_jaxmarl(env, params)
    assert isinstance(view, MultiAgentEnv)
    assert view.agents == ["agent_0", "agent_1"] and view.num_agents == 2
    assert view.observation_space("agent_0").shape == (5,)
    assert view.action_space("agent_1").n == 2
    returns, finished, reward = jax.jit(
        lambda k: ippo_style_rollout(view, k, num_envs=4, steps=STEPS)
    )(jax.random.key(0))
    # The logged return of each finished episode is the sum of its 8 rewards.
    per_step = np.stack([np.asarray(reward[a]) for a in view.agents], 1)  # [T, A, E]
    episodes = per_step.reshape(STEPS // 8, 8, 2, 4).sum(1)  # [episode, A, E]
    # Info leaves are [envs, agents] under vmap: IPPO's reshape puts envs first.
    logged = np.asarray(returns).reshape(STEPS, 4, 2).transpose(0, 2, 1)[7::8]
    np.testing.assert_allclose(logged, episodes, rtol=1e-6)
    assert np.asarray(finished).reshape(STEPS, 4, 2)[7::8].all()


def test_the_jaxmarl_view_steps_like_the_marl_env_with_the_same_keys():
    env, params = marl.make("coin_game")
    view = to_jaxmarl(env, params)
    obs_d, state_v = view.reset(jax.random.key(1))
    obs, state = env.reset(jax.random.key(1), params)
    np.testing.assert_array_equal(obs_d["agent_1"], np.asarray(obs[1], np.float32))
    for i in range(5):
        actions = random_actions(jax.random.key(10 + i), env, params)
        got = view.step(jax.random.key(i), state_v, {"agent_0": actions[0], "agent_1": actions[1]})
        want = env.step(jax.random.key(i), state, actions, params)
        (obs_d, state_v, reward_d, done_d, info_d), (obs, state, reward, done, _) = got, want
        np.testing.assert_array_equal(obs_d["agent_0"], np.asarray(obs[0], np.float32))
        assert [float(reward_d[a]) for a in view.agents] == np.asarray(reward).tolist()
        assert bool(done_d["__all__"]) == bool(done) == bool(done_d["agent_0"])
        assert info_d["terminated"].shape == (2,)  # scalars repeated per agent
    # JaxMARL's own step path (step_env + reset select) is served too.
    reset_obs, reset_state = view.reset(jax.random.key(9))
    out = view.step(jax.random.key(3), state_v, {"agent_0": 0, "agent_1": 1}, reset_state)
    assert set(out[0]) == {"agent_0", "agent_1"}


# ---- JaxMARL -> marl ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def jaxmarl_coin_game():
    return from_jaxmarl("coin_game", num_inner_steps=10, num_outer_steps=1)


@pytest.mark.parametrize(
    "check",
    [c for c in marl.testing.CHECKS if c != "render"],  # JaxMARL renders with pyplot
)
def test_a_jaxmarl_env_passes_the_marl_env_contract(jaxmarl_coin_game, check):
    marl.testing.CHECKS[check](*jaxmarl_coin_game)


def test_a_jaxmarl_env_as_marl_env_has_agents_first_arrays(jaxmarl_coin_game):
    env, params = jaxmarl_coin_game
    assert env.num_agents == 2 and env.name == "jaxmarl:CoinGame-v1"
    obs, state = env.reset(jax.random.key(0), params)
    assert obs.shape == (2, *env.observation_space(params).shape)
    _, _, reward, done, info = env.step(jax.random.key(1), state, jnp.array([0, 1]), params)
    assert reward.shape == (2,) and reward.dtype == jnp.float32 and done.shape == ()
    assert not bool(info["truncated"]) and "jaxmarl" in info


def test_marl_ppo_trains_on_a_registered_jaxmarl_env(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undone after
    register_jaxmarl("jaxmarl_coin_game", "coin_game", num_inner_steps=16, num_outer_steps=1)
    assert "jaxmarl_coin_game" in marl.list_envs()
    raw = config(f"run_dir={tmp_path}", *TINY_IPD[2:])
    raw["env"].update(name="jaxmarl_coin_game", args={})  # a JaxMARL env takes no args
    last = rows(train(raw))[-1]
    assert last["step"] == 2048 and np.isfinite(last["loss/policy"])


def test_jaxmarl_envs_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="keyword arguments .* need an env name"):
        from_jaxmarl(jaxmarl.make("coin_game"), num_inner_steps=3)
    mpe = jaxmarl.make("MPE_simple_tag_v3")  # adversaries and good agents differ
    with pytest.raises(ValueError, match="agents have different observation spaces"):
        from_jaxmarl(mpe)


# ---- PettingZoo --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ipd", "coin_game"])
def test_the_pettingzoo_view_passes_pettingzoos_parallel_api_test(name):
    from pettingzoo.test import parallel_api_test

    env, params = marl.make(name, **({"horizon": 10} if name == "ipd" else {}))
    parallel_api_test(to_pettingzoo(env, params), num_cycles=30)


def test_a_pettingzoo_game_ends_with_every_agent_done_and_replays_from_its_seed():
    env, params = marl.make("ipd", horizon=3)
    view = to_pettingzoo(env, params, render_mode="rgb_array")

    def play(seed):
        obs, _ = view.reset(seed=seed)
        assert isinstance(obs["agent_0"], np.ndarray) and obs["agent_0"].dtype == np.float32
        rewards = []
        while view.agents:
            _, reward, term, trunc, info = view.step({a: 1 for a in view.agents})
            rewards.append(reward)
        return rewards, term, trunc, info

    rewards, term, trunc, info = play(seed=5)
    assert len(rewards) == 3 and rewards[0] == {"agent_0": -2.0, "agent_1": -2.0}
    assert trunc == {"agent_0": True, "agent_1": True} and not any(term.values())
    assert info["agent_0"]["cooperated"] == np.False_  # per-agent events, agent's own entry
    assert view.render().dtype == np.uint8
    assert play(seed=5)[0] == rewards
    with pytest.raises(ValueError, match=r"the live agents are \[\] \(call reset"):
        view.step({"agent_0": 0, "agent_1": 0})
    view.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 2 of agent_1 is outside the action space"):
        view.step({"agent_0": 0, "agent_1": 2})


# ---- gymnax-style single agent -----------------------------------------------------------
def test_single_agent_view_runs_under_gymnax_log_wrapper_with_scripted_coplayers():
    env, params = marl.make("ipd", horizon=4)
    view = gymnax_wrappers.LogWrapper(single_agent(env, {1: "tit_for_tat"}))
    obs, state = view.reset(jax.random.key(0), params)
    assert obs.shape == view.observation_space(params).shape == (5,)
    assert view.action_space(params).n == 2

    def one_step(state, key):  # always defect against tit-for-tat
        obs, state, reward, terminated, truncated, info = view.step(key, state, 1, params)
        return state, (reward, truncated, info["returned_episode_returns"])

    _, (reward, truncated, returns) = jax.lax.scan(
        one_step, state, jax.random.split(jax.random.key(1), 8)
    )
    np.testing.assert_array_equal(reward, [0, -2, -2, -2] * 2)  # T exploits C once
    np.testing.assert_array_equal(truncated, [False, False, False, True] * 2)
    assert float(returns[3]) == float(returns[7]) == -6.0


def test_single_agent_legacy_tuple_and_bad_coplayers():
    env, params = marl.make("ipd", horizon=4, final_obs=True)
    view = single_agent(env, {0: "always_cooperate"}, agent=1, legacy=True)
    obs, state = view.reset(jax.random.key(0))
    obs, state, reward, done, info = jax.jit(view.step)(jax.random.key(1), state, 1)
    assert float(reward) == 0.0 and info["final_observation"].shape == (5,)
    with pytest.raises(ValueError, match=r"co-players for slots \[\]; the slots other than"):
        single_agent(env, {}, agent=0)
    with pytest.raises(ValueError, match="unknown scripted policy 'nobody'"):
        single_agent(env, {1: "nobody"})

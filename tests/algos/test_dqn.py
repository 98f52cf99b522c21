"""Double DQN: targets, replay contents, banks, and learning on small tasks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from training import rows, run

import marl
from marl import algos
from marl.algos.dqn import double_dqn_targets, explore_value, select_actions
from marl.config import ConfigError

FAST = {
    "name": "dqn",
    "num_envs": 2,
    "num_steps": 4,
    "batch_size": 16,
    "learning_starts": 0,
    "buffer_size": 400,
}


def make(env_name="ipd", scripted=None, env_args=None, **algo):
    env, params = marl.make(env_name, **(env_args or {}))
    return algos.make({**FAST, **algo}, marl.EpisodeStats(env), params, scripted)


def test_double_dqn_target_uses_the_online_argmax_and_the_target_value():
    q_online = jnp.array([[1.0, 5.0], [3.0, 0.0]])
    q_target = jnp.array([[10.0, 20.0], [30.0, 40.0]])
    targets = double_dqn_targets(jnp.array([1.0, 2.0]), jnp.array([0.5, 0.0]), q_online, q_target)
    np.testing.assert_allclose(targets, [1.0 + 0.5 * 20.0, 2.0])


def test_replay_holds_n_step_transitions_of_the_played_trajectory():
    # ipd with horizon 3 against always-cooperate, n = 2, gamma = 0.5: after 3 steps the
    # ring holds the windows (step 0, step 1) and (step 1, step 2); the episode ends at step 2.
    trainer = make(
        scripted={1: "always_cooperate"},
        env_args={"horizon": 3},
        n_step=2,
        gamma=0.5,
        num_envs=1,
        num_steps=3,
    )
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    state, _ = jax.jit(trainer.update)(state)
    assert int(state.replay.filled) == 2
    items = jax.tree.map(lambda x: np.asarray(x)[:, 0], state.replay.items)  # env 0
    a0, a1 = items["action"][0, 0], items["action"][1, 0]  # the learner's steps 0 and 1
    a2 = int(np.asarray(state.window["actions"])[-1, 0, 0])  # its step 2
    payoff = np.asarray(marl.make("ipd")[1].payoff)[:, 0, 0]  # learner's payoff vs C
    np.testing.assert_array_equal(items["action"][:2, 1], [0, 0])  # the co-player cooperated
    assert items["ret"][0, 0] == pytest.approx(payoff[a0] + 0.5 * payoff[a1])
    assert items["discount"][0, 0] == pytest.approx(0.25)
    assert items["ret"][1, 0] == pytest.approx(payoff[a1] + 0.5 * payoff[a2])
    assert items["discount"][1, 0] == 0.0  # the episode ended inside the window
    # observations: start state, then the joint outcome of step 0 (learner's view)
    assert items["obs"][0, 0].argmax() == 0
    assert items["obs"][1, 0].argmax() == 1 + 2 * a0
    assert items["next_obs"][0, 0].argmax() == 1 + 2 * a1


@pytest.mark.parametrize("bootstrap", [False, True])
def test_a_time_limit_is_bootstrapped_from_the_final_observation_only_when_asked(bootstrap):
    # ipd, horizon 3, n = 2, gamma = 0.5, 6 steps: windows (0,1), (1,2), (2,3), (3,4), (4,5);
    # the episodes are cut after steps 2 and 5, inside windows (1,2), (2,3) and (4,5).
    env, params = marl.make("ipd", horizon=3, final_obs=bootstrap)
    algo = {**FAST, "n_step": 2, "gamma": 0.5, "num_envs": 1, "num_steps": 6}
    trainer = algos.make(
        {**algo, "bootstrap_truncated": bootstrap},
        marl.EpisodeStats(env),
        params,
        {1: "always_cooperate"},
    )
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    state, _ = jax.jit(trainer.update)(state)
    items = jax.tree.map(lambda x: np.asarray(x)[:5, 0, 0], state.replay.items)  # env 0, learner
    if bootstrap:
        np.testing.assert_allclose(items["discount"], [0.25, 0.25, 0.5, 0.25, 0.25])
        # windows (1,2) and (2,3) bootstrap from the outcome of step 2, not the new start
        # state; window (2,3) starts there
        np.testing.assert_array_equal(items["next_obs"][1], items["next_obs"][2])
        assert items["next_obs"][1].argmax() != 0
        assert items["next_obs"][1].argmax() == 1 + 2 * items["action"][2]
    else:
        np.testing.assert_allclose(items["discount"], [0.25, 0.0, 0.0, 0.25, 0.0])


def test_bootstrapping_a_time_limit_needs_the_final_observation():
    with pytest.raises(ConfigError, match="final_obs=True"):
        make(bootstrap_truncated=True)


def test_exploration_schedules_are_linear_then_flat():
    trainer = make(explore_start=1.0, explore_end=0.1, explore_steps=100)
    c = trainer.config
    assert float(explore_value(c, 0)) == 1.0
    assert float(explore_value(c, 50)) == pytest.approx(0.55)
    assert float(explore_value(c, 1000)) == pytest.approx(0.1)


def test_epsilon_zero_is_greedy_and_boltzmann_follows_the_softmax():
    q = jnp.array([0.0, 1.0])
    keys = jax.random.split(jax.random.PRNGKey(0), 4000)
    greedy = make(exploration="epsilon").config
    picks = jax.vmap(lambda k: select_actions(k, q, greedy, 0.0))(keys)
    assert bool((picks == 1).all())
    boltzmann = make(exploration="boltzmann", explore_start=1.0, explore_end=1.0).config
    picks = jax.vmap(lambda k: select_actions(k, q, boltzmann, 0.5))(keys)
    expected = float(jax.nn.softmax(q / 0.5)[1])
    assert abs(float(picks.mean()) - expected) < 0.03


@pytest.mark.parametrize("sharing, banks", [("shared", 1), ("independent", 4), ("groups:2", 2)])
def test_every_sharing_mode_runs_on_a_four_agent_game(sharing, banks):
    trainer = make("spgg", env_args={"num_agents": 4}, sharing=sharing)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    for _ in range(3):
        state, metrics = update(state)
    assert all(leaf.shape[0] == banks for leaf in jax.tree.leaves(state.params))
    assert np.isfinite(float(metrics["loss/td"]))


def test_a_bank_learns_only_from_its_own_agents():
    # groups:2 with agents 1 and 3 scripted: bank 1 has no learning agent and never moves
    trainer = make(
        "spgg", env_args={"num_agents": 4}, sharing="groups:2", scripted={1: "random", 3: "random"}
    )
    start = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    state = start
    update = jax.jit(trainer.update)
    for _ in range(3):
        state, _ = update(state)
    for before, after in zip(
        jax.tree.leaves(start.params), jax.tree.leaves(state.params), strict=True
    ):
        np.testing.assert_array_equal(before[1], after[1])
        assert not np.array_equal(before[0], after[0])
    # and the batches of bank 0 only ever hold agents 0 and 2
    members = trainer.members[0]
    assert set(members.tolist()) == {0, 2}


def test_independent_banks_sample_only_their_agent():
    trainer = make("spgg", env_args={"num_agents": 3}, sharing="independent")
    np.testing.assert_array_equal(trainer.members[:, 0], [0, 1, 2])
    np.testing.assert_array_equal(trainer.member_counts, [1, 1, 1])


def test_dqn_learns_to_defect_against_always_cooperate(tmp_path):
    out = run(
        tmp_path,
        "algo=dqn",
        "env=ipd",
        "env.args.horizon=32",
        "+scripted.1=always_cooperate",
        "total_steps=24064",
        "num_chunks=4",
        "num_seeds=1",
        "algo.explore_steps=2000",
    )
    last = rows(out)[-1]
    # exploration ends at 0.05: a greedy defector cooperates only by chance, ~2.5%
    assert last["learners/cooperation_rate"] < 0.1


def test_dqn_on_spatial_pd_moves_cooperation_away_from_one_half(tmp_path):
    out = run(
        tmp_path,
        "algo=dqn",
        "env=spatial_pd",
        "env.args.size=10",
        "env.args.dilemma=0.4",
        "env.args.episode_length=50",
        "total_steps=3000",
        "num_chunks=3",
        "num_seeds=1",
        "algo.num_envs=1",
        "algo.num_steps=4",
        "algo.explore_steps=1000",
        "algo.buffer_size=20000",
        "algo.batch_size=128",
    )
    history = rows(out)
    # strong dilemma, shared network: defection pays against every neighbourhood state
    assert history[-1]["cooperation_rate"] < 0.3


def test_learning_stops_freezes_the_network_for_evaluation():
    trainer = make(learning_stops=8, num_steps=4)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    update = jax.jit(trainer.update)
    for _ in range(2):  # time 4, 8: still learning
        state, _ = update(state)
    frozen = state.params
    for _ in range(2):  # time 12, 16: evaluation
        state, metrics = update(state)
    for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves(state.params), strict=True):
        np.testing.assert_array_equal(a, b)
    assert float(metrics["loss/td"]) == 0.0


def test_learning_waits_for_the_first_transition_even_with_learning_starts_zero():
    # n_step=3, one time step per update: the ring is empty after updates 1 and 2 (time 1,
    # 2), so no gradient step may run (it would train on the zero-filled slot 0), which
    # leaves even Adam's step count untouched; at time 3 the first transition is in.
    trainer = make(n_step=3, num_steps=1, learning_starts=0)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    start = state.opt_state
    update = jax.jit(trainer.update)
    for _ in range(2):
        state, metrics = update(state)
        assert int(state.replay.filled) == 0 and float(metrics["loss/td"]) == 0.0
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(state.opt_state), strict=True):
        np.testing.assert_array_equal(a, b)
    state, metrics = update(state)
    assert int(state.replay.filled) == 1 and float(metrics["loss/td"]) > 0.0


def test_continuing_task_reports_step_rates():
    trainer = make("spatial_pd", env_args={"size": 4}, num_envs=1)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    state, metrics = jax.jit(trainer.update)(state)
    assert float(metrics["episodes"]) == 0.0  # no episode ever ends
    assert 0.0 <= float(metrics["step/cooperation_rate"]) <= 1.0


def test_bit_vector_observations_are_looked_up_by_state_with_the_network_values():
    # spatial_pd observes 5 bits; with 36 agents, Q comes from the network evaluated once
    # per state (32 of them) and looked up
    trainer = make("spatial_pd", env_args={"size": 6}, sharing="groups:2", num_envs=1)
    assert trainer.by_state
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    obs = jax.random.bernoulli(jax.random.PRNGKey(1), 0.5, (36, 5)).astype(jnp.float32)
    looked_up = trainer.q_values(state.params, obs)
    per_agent = jax.tree.map(lambda p: p[trainer.bank_of], state.params)
    direct = jax.vmap(trainer._net)(per_agent, obs)
    np.testing.assert_allclose(looked_up, direct, rtol=1e-5, atol=1e-6)


def test_q_table_step_is_sgd_on_the_per_entry_mean_squared_td_loss():
    trainer = make("spatial_pd", env_args={"size": 3}, sharing="independent", q_table=True)
    table = jax.random.normal(jax.random.PRNGKey(1), (trainer.num_banks, 32, 2))
    params, target = {"table": table}, {"table": table[:, ::-1]}
    k = jax.random.split(jax.random.PRNGKey(2), 4)
    shape = (trainer.num_banks, 6)
    batch = {  # few states, so entries are hit several times in a batch
        "obs": jax.random.randint(k[0], shape, 0, 3),
        "action": jax.random.randint(k[1], shape, 0, 2),
        "ret": 3.0 * jax.random.normal(k[2], shape),
        "discount": jnp.full(shape, 0.9),
        "next_obs": jax.random.randint(k[3], shape, 0, 3),
    }
    stepped, _ = jax.jit(trainer._table_step)(params, target, batch)
    grads, _ = jax.jit(jax.vmap(jax.grad(trainer._loss, has_aux=True)))(params, target, batch)
    expected = table - trainer.config.table_lr * grads["table"]
    np.testing.assert_allclose(stepped["table"], expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(stepped["table"], table)


def test_q_table_needs_bit_vector_observations():
    with pytest.raises(ConfigError, match="q_table"):
        make("ipd", env_args={"horizon": 3}, q_table=True)


def test_sweep_values_are_state_leaves_that_vmap():
    trainer = make("spatial_pd", env_args={"size": 4}, num_envs=1, exploration="boltzmann")
    dilemmas, starts = jnp.array([0.1, 0.4, 0.1]), jnp.array([0.3, 0.3, 0.9])
    env_params = jax.vmap(lambda d: trainer.env_params.replace(dilemma=d))(dilemmas)
    keys = jnp.stack([jax.random.PRNGKey(0)] * 3)
    state = jax.jit(jax.vmap(trainer.init))(keys, env_params, starts)
    state, metrics = jax.jit(jax.vmap(trainer.update))(state)
    # each run follows its own schedule start ...
    expected = [float(explore_value(trainer.config, 4, s)) for s in starts]
    np.testing.assert_allclose(metrics["exploration"], expected, rtol=1e-6)
    # ... and its own payoffs: runs 0 and 1 played the same actions (same key, same
    # start), but a larger Dr pays defectors more and cooperators less
    items = state.replay.items
    np.testing.assert_array_equal(items["action"][0], items["action"][1])
    assert not np.allclose(items["ret"][0], items["ret"][1])

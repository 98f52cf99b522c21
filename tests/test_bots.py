"""Scripted gridworld bots (marl/evaluation/bots.py): their choices on hand-built
observations, then one short episode batch per game against `random`.

Hand-built cases go through one jitted, vmapped rule per bot (padded to a fixed batch, so
each bot compiles once); the env-level checks run each game once, every bot of the check
in its own environments of the same vmapped rollout."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl
from marl.envs.gridworld.cleanup import FIRE_CLEAN
from marl.envs.gridworld.engine import (
    BACKWARD,
    FIRE_ZAP,
    FORWARD,
    NOOP,
    STEP_LEFT,
    STEP_RIGHT,
    TURN_LEFT,
    TURN_RIGHT,
)
from marl.evaluation import bots
from marl.policy import from_agent_rule, mix
from marl.scripted import names_for, scripted_policy

BATCH = 256  # every hand-built batch is padded to this, so each rule compiles once
TURNS = {TURN_LEFT, TURN_RIGHT}
MOVES = (FORWARD, STEP_RIGHT, BACKWARD, STEP_LEFT)
STEPS = {FORWARD: (-1, 0), STEP_RIGHT: (0, 1), BACKWARD: (1, 0), STEP_LEFT: (0, -1)}


@functools.cache
def game(name):
    return marl.make(name)


@functools.cache
def jitted(name, bot, **kwargs):
    env, _ = game(name)
    return jax.jit(jax.vmap(bots.BOTS[bot](env, **kwargs)))


def view(name, apples=(), walls=(), agents=(), waste=()):
    """An observation with the bot at its place and the given cells set; cells are (f, x):
    f cells ahead (negative: behind), x to the right."""
    env, _ = game(name)
    names = env.channel_names
    eng = env.engine
    obs = np.zeros(eng.observation_shape, np.uint8)
    obs[eng.view.ahead, eng.view.left, names.index("self")] = 1
    for channel, cells in (
        ("apple", apples),
        ("wall", walls),
        ("other_facing_opposite", agents),
        ("waste", waste),
    ):
        for f, x in cells:
            obs[eng.view.ahead - f, eng.view.left + x, names.index(channel)] = 1
    return obs


def decide(name, bot, cases, repeats=16, seed=0, **kwargs):
    """int[len(cases), repeats]: the bot's action on each case, with `repeats` keys."""
    obs = np.repeat(np.stack(cases), repeats, axis=0)
    assert len(obs) <= BATCH
    padded = np.zeros((BATCH, *obs.shape[1:]), obs.dtype)
    padded[: len(obs)] = obs
    keys = jax.random.split(jax.random.key(seed), BATCH)
    actions = np.asarray(jitted(name, bot, **kwargs)(keys, jnp.asarray(padded)))
    return actions[: len(obs)].reshape(len(cases), repeats)


def test_bots_are_registered_for_their_games():
    expected = {
        "harvest": {"greedy_eater", "zapper", "sustainable_harvester"},
        "cleanup": {"greedy_eater", "zapper", "cleaner", "cleaner_eater"},
        "gathering": {"greedy_eater", "zapper"},
    }
    for name, own in expected.items():
        found = set(names_for(game(name)[0])) & set(bots.BOTS)
        assert found == own, name
    with pytest.raises(ValueError, match="cleaner.*needs one of: Cleanup"):
        scripted_policy("cleaner", game("harvest")[0])
    with pytest.raises(ValueError, match="sustainable_harvester.*needs one of: Harvest"):
        scripted_policy("sustainable_harvester", game("cleanup")[0])
    with pytest.raises(ValueError, match="greedy_eater.*needs one of"):
        scripted_policy("greedy_eater", marl.make("ipd")[0])


# ---- greedy_eater --------------------------------------------------------------------------
def test_greedy_eater_walks_shortest_paths():
    wall = [(1, x) for x in range(-3, 3)]  # one row ahead, longer on the left
    cases = [
        view("harvest", apples=[(3, 0)], walls=wall),  # around the wall's short (right) end
        view("harvest", apples=[(3, 0), (0, -2)]),  # the nearer apple: 2 to the left
        view("harvest", apples=[(3, 0), (-1, 0)]),  # the nearer apple: right behind
        # Two equal ways to a diagonal apple; the one ahead is through another agent.
        view("harvest", apples=[(1, 1)], agents=[(1, 0)]),
    ]
    actions = decide("harvest", "greedy_eater", cases)
    assert (actions[0] == STEP_RIGHT).all()
    assert (actions[1] == STEP_LEFT).all()
    assert (actions[2] == BACKWARD).all()
    assert (actions[3] == STEP_RIGHT).all()


def test_greedy_eater_breaks_ties_at_random_and_explores_without_apples():
    cases = [
        view("harvest", apples=[(0, -2), (0, 2)]),
        view("harvest"),
        view("harvest", walls=[(1, 0)]),
    ]
    tie, free, blocked = decide("harvest", "greedy_eater", cases, repeats=64)
    assert set(tie) == {STEP_LEFT, STEP_RIGHT}
    assert set(free) == {FORWARD, *TURNS} and (free == FORWARD).mean() > 0.5
    assert set(blocked) <= TURNS


def random_views(name, count, seed, apple=0.2, wall=0.1, agent=0.05):
    """Observations with random apples, walls and agents (never on the bot's cell)."""
    rng = np.random.default_rng(seed)
    env, _ = game(name)
    names, eng = env.channel_names, env.engine
    out = []
    for _ in range(count):
        obs = view(name)
        h, w = eng.view.shape
        for channel, p in (("apple", apple), ("wall", wall), ("other_same_facing", agent)):
            layer = rng.random((h, w)) < p
            layer[eng.view.ahead, eng.view.left] = False
            obs[..., names.index(channel)] = layer
        out.append(obs)
    return out


def test_greedy_eater_never_fires():
    actions = decide("harvest", "greedy_eater", random_views("harvest", 32, 0), repeats=8)
    assert actions.min() >= NOOP and actions.max() <= TURN_RIGHT


# ---- zapper --------------------------------------------------------------------------------
def test_zapper_fires_at_agents_in_its_beam_only():
    # Melting Pot Harvest's zap: 3 cells ahead, 1 column to each side (sides: f = 0..2).
    assert int(game("harvest")[1].zap_length) == 3 and int(game("harvest")[1].zap_radius) == 1
    in_beam = [(3, 0), (1, 0), (2, 1), (0, -1)]
    out_of_beam = [(4, 0), (3, 1), (0, 2)]
    cases = [view("harvest", agents=[c]) for c in in_beam + out_of_beam]
    cases += [
        view("harvest", agents=[(2, 0)], walls=[(1, 0)]),  # behind a wall
        view("harvest", agents=[(-1, 0)]),  # right behind
        view("harvest", agents=[(1, 4)]),  # more to the side than ahead
        view("harvest", agents=[(1, -4)]),
    ]
    actions = decide("harvest", "zapper", cases)
    fired = (actions == FIRE_ZAP).all(1)
    assert fired[: len(in_beam)].all()
    assert not (actions[len(in_beam) :] == FIRE_ZAP).any()
    far, diagonal, side, walled, behind, right, left = actions[len(in_beam) :]
    assert (far == FORWARD).all()  # walks up to it
    assert set(diagonal) <= {FORWARD, STEP_RIGHT}
    assert set(side) <= TURNS  # (0, 2) is more to the side than ahead: turns toward it
    assert set(walled) <= {STEP_LEFT, STEP_RIGHT}  # around the wall
    assert set(behind) <= TURNS
    assert (right == TURN_RIGHT).all() and (left == TURN_LEFT).all()


def test_zapper_uses_gatherings_long_narrow_beam():
    cases = [view("gathering", agents=[(12, 0)]), view("gathering", agents=[(3, 1)])]
    far, beside = decide("gathering", "zapper", cases)
    assert (far == FIRE_ZAP).all()  # the tag beam reaches the wall
    assert not (beside == FIRE_ZAP).any()  # it is one column wide


def test_zapper_without_agents_eats():
    actions = decide("harvest", "zapper", [view("harvest", apples=[(0, -2)])])
    assert (actions == STEP_LEFT).all()


# ---- cleaner -------------------------------------------------------------------------------
def test_cleaner_cleans_waste_in_its_beam_and_heads_for_the_river():
    # Melting Pot Cleanup's cleaning beam: 3 ahead, 1 column to each side.
    params = game("cleanup")[1]
    assert int(params.clean_length) == 3 and int(params.clean_radius) == 1
    cases = [
        view("cleanup", waste=[(3, 0)]),
        view("cleanup", waste=[(0, -1)]),  # beside it: the beam's side column starts there
        view("cleanup", waste=[(4, 0)]),  # too far: walk up to it
        view("cleanup", waste=[(2, 0)], walls=[(1, 0)]),  # behind a wall
        view("cleanup", waste=[(-1, 0)]),  # behind: turn
        view("cleanup", apples=[(5, 0), (6, 1)]),  # orchard ahead: turn away from it
        view("cleanup", apples=[(-1, 0), (-1, 1)]),  # orchard behind: walk on
    ]
    actions = decide("cleanup", "cleaner", cases, repeats=32)
    ahead, beside, far, walled, behind, orchard_ahead, orchard_behind = actions
    assert (ahead == FIRE_CLEAN).all() and (beside == FIRE_CLEAN).all()
    assert (far == FORWARD).all()
    assert set(walled) <= {STEP_LEFT, STEP_RIGHT}
    assert set(behind) <= TURNS
    assert set(orchard_ahead) <= TURNS
    assert set(orchard_behind) <= {FORWARD, *TURNS} and (orchard_behind == FORWARD).mean() > 0.5


def test_cleaner_eater_cleans_when_it_sees_waste_and_eats_otherwise():
    cases = [view("cleanup", waste=[(2, 0)], apples=[(0, 1)]), view("cleanup", apples=[(0, 1)])]
    actions = decide("cleanup", "cleaner_eater", cases)
    assert (actions[0] == FIRE_CLEAN).all()  # waste in the beam: clean, ignore the apple
    assert (actions[1] == STEP_RIGHT).all()  # no waste in view: step onto the apple


def test_cleaner_never_zaps():
    cases = random_views("cleanup", 32, 1)
    actions = decide("cleanup", "cleaner", cases, repeats=4)
    assert not (actions == FIRE_ZAP).any()


# ---- sustainable_harvester -----------------------------------------------------------------
LEFT = (0, -1)
TWO_NEIGHBOURS = [(0, -2), (1, -1)]  # of the apple at LEFT: both at distance 1
THREE_NEIGHBOURS = [*TWO_NEIGHBOURS, (1, -2)]  # and one at distance^2 2


def test_sustainable_harvester_refuses_apples_with_few_neighbours():
    cases = [
        view("harvest", apples=[LEFT]),  # isolated
        view("harvest", apples=[LEFT, *TWO_NEIGHBOURS]),  # only 2 others within radius 2
        view("harvest", apples=[LEFT, *THREE_NEIGHBOURS]),
    ]
    isolated, two, three = decide("harvest", "sustainable_harvester", cases, repeats=64)
    assert not (isolated == STEP_LEFT).any()
    assert not (two == STEP_LEFT).any()
    assert (three == STEP_LEFT).all()
    # k is the factory's: with k = 2 the apple with two neighbours is fair game.
    (two,) = decide("harvest", "sustainable_harvester", cases[1:2], k=2)
    assert (two == STEP_LEFT).all()


def eligible_apples(apples, k=3):
    """bool[H, W]: apples with >= k others at dr^2 + dc^2 <= 4 inside the window."""
    h, w = apples.shape
    padded = np.pad(apples.astype(int), 2)
    count = sum(
        padded[2 + dr : 2 + dr + h, 2 + dc : 2 + dc + w]
        for dr in range(-2, 3)
        for dc in range(-2, 3)
        if (dr, dc) != (0, 0) and dr * dr + dc * dc <= 4
    )
    return apples & (count >= k)


def test_sustainable_harvester_never_steps_onto_an_ineligible_apple():
    env, _ = game("harvest")
    a, c = env.engine.view.ahead, env.engine.view.left
    apple = env.channel_names.index("apple")
    cases = random_views("harvest", 48, 2, apple=0.35)
    actions = decide("harvest", "sustainable_harvester", cases, repeats=4)
    moved_to_eligible = 0
    for obs, chosen in zip(cases, actions, strict=True):
        apples = obs[..., apple] > 0
        forbidden = apples & ~eligible_apples(apples)
        for action in chosen:
            assert action not in (FIRE_ZAP, NOOP)
            if action in STEPS:
                dr, dc = STEPS[int(action)]
                assert not forbidden[a + dr, c + dc], (action, apples.astype(int))
                moved_to_eligible += bool(apples[a + dr, c + dc])
    assert moved_to_eligible > 0  # it does eat


# ---- env-level checks: one vmapped rollout per game --------------------------------------------
@functools.cache
def episodes(name, policy_names, envs_each, steps, events):
    """Sums over `steps` steps of info[event], shaped [policy, env] (plus [agent] for
    per-agent events): `envs_each` environments played entirely by each policy of
    `policy_names`, all in one vmapped scan."""
    env, params = game(name)
    policies = [from_agent_rule(scripted_policy(p, env), env.num_agents) for p in policy_names]
    owners = np.repeat(np.arange(len(policies)), envs_each)[:, None]
    owners = jnp.asarray(np.broadcast_to(owners, (len(owners), env.num_agents)), jnp.int32)

    def play(key, owner):
        policy = mix(policies, owner)
        key_reset, key_steps = jax.random.split(key)
        obs, state = env.reset(key_reset, params)

        def step(carry, key):
            obs, state, memory = carry
            key_act, key_env = jax.random.split(key)
            actions, memory = policy.act(key_act, obs, memory, jnp.asarray(False))
            obs, state, _, _, info = env.step(key_env, state, actions, params)
            return (obs, state, memory), {e: info[e].astype(jnp.float32) for e in events}

        start = (obs, state, policy.init())
        _, out = jax.lax.scan(step, start, jax.random.split(key_steps, steps))
        return jax.tree.map(lambda v: v.sum(0), out)

    keys = jax.random.split(jax.random.key(7), len(owners))
    out = jax.jit(jax.vmap(play))(keys, owners)
    return {
        e: np.asarray(v).reshape(len(policies), envs_each, *v.shape[1:]) for e, v in out.items()
    }


HARVEST_STEPS = 100


HARVEST_BOTS = ("greedy_eater", "random", "sustainable_harvester", "zapper")


def harvest_episodes():
    """Melting Pot Harvest (7 agents), each bot of HARVEST_BOTS in 2 environments."""
    events = ("apples", "apples_left", "zapped")
    out = episodes("harvest", HARVEST_BOTS, 2, HARVEST_STEPS, events)
    return {e: dict(zip(HARVEST_BOTS, v, strict=True)) for e, v in out.items()}


def test_greedy_eater_eats_more_than_random_in_harvest():
    apples = {bot: v.sum(-1).mean() for bot, v in harvest_episodes()["apples"].items()}
    assert apples["greedy_eater"] > 2 * apples["random"] > 0


def test_sustainable_harvester_leaves_more_apples_than_greedy_eater():
    # Apples on the map, averaged over the steps and the environments.
    left = {bot: v.mean() / HARVEST_STEPS for bot, v in harvest_episodes()["apples_left"].items()}
    assert left["sustainable_harvester"] > 2 * left["greedy_eater"]


def test_zapper_zaps_in_harvest():
    zapped = {bot: v.sum(-1).mean() for bot, v in harvest_episodes()["zapped"].items()}
    assert zapped["zapper"] > 3 * zapped["random"] + 5


def test_cleaner_cleans_the_river_in_cleanup():
    cleaned = episodes("cleanup", ("cleaner", "random"), 2, 150, ("cleaned",))["cleaned"]
    cleaner, random = cleaned.sum(-1).mean(-1)
    assert cleaner > 0 and cleaner > 2 * random

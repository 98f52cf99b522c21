"""The environment contract, as checks that run on any env: ours and yours.

Every environment registered with `marl` passes these checks in the project's own test
suite; run them on yours the same way (docs/api.md, "Write your own environment"):

```python
import marl.testing

def test_my_env_keeps_the_contract():
    env, params = marl.make("my_env")
    marl.testing.check_env(env, params)
```

or one check per test, so that a failure names its check:

```python
@pytest.mark.parametrize("check", marl.testing.CHECKS)
def test_my_env(check):
    marl.testing.CHECKS[check](*marl.make("my_env"))
```

Each check takes `(env, params)` and raises AssertionError (with what was expected and
what happened) when the env breaks the contract. They jit the env's functions, so they
also show that the env is jittable, and they use keys only, so they are deterministic.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from marl.rollout import random_actions, random_rollout

STEPS = 12  # the rollout length of the checks: short, since every env must pass fast
RESET_WITHIN = 40  # steps within which some episode must end (auto-reset check)


def _leaves_equal(a, b) -> bool:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


def _assert_leaves_equal(got, want, what: str) -> None:
    for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=what)


def check_jits_once(env, params) -> None:
    """`step` compiles once for new keys, actions and param values (no retracing: params
    are array leaves, not Python constants)."""
    traces = []

    def step(key, state, actions, params):
        traces.append(1)
        return env.step(key, state, actions, params)

    step = jax.jit(step)
    _, state = env.reset(jax.random.key(0), params)
    for i in range(3):
        actions = random_actions(jax.random.key(10 + i), env, params)
        changed = jax.tree.map(lambda x: x + 0 if x.dtype != bool else x, params)
        _, state, *_ = step(jax.random.key(i), state, actions, changed)
    assert len(traces) == 1, f"{env.name}: step was traced {len(traces)} times for 3 calls"


def check_rollout_values(env, params) -> None:
    """A random rollout has the documented shapes and dtypes, finite rewards and
    observations inside the observation space, and done = terminated | truncated."""
    run = jax.jit(lambda k: random_rollout(env, params, k, STEPS))
    _, (obs, reward, done, info) = run(jax.random.key(1))
    space = env.observation_space(params)
    want = (STEPS, env.num_agents, *space.shape)
    assert obs.shape == want, f"{env.name}: observations of shape {obs.shape}, expected {want}"
    assert reward.shape == (STEPS, env.num_agents) and reward.dtype == jnp.float32, (
        f"{env.name}: rewards must be float32[num_agents], got {reward.dtype}{reward.shape[1:]}"
    )
    assert done.shape == (STEPS,) and done.dtype == jnp.bool_, f"{env.name}: done must be bool[]"
    assert np.isfinite(np.asarray(reward)).all(), f"{env.name}: non-finite rewards"
    assert np.isfinite(np.asarray(obs, np.float32)).all(), f"{env.name}: non-finite observations"
    inside = jax.vmap(space.contains)(obs.reshape(-1, *space.shape))
    assert bool(inside.all()), f"{env.name}: observations outside the observation space"
    for flag in ("terminated", "truncated"):
        assert flag in info, f"{env.name}: info lacks {flag!r}"
    np.testing.assert_array_equal(
        done, info["terminated"] | info["truncated"], err_msg=f"{env.name}: done != either flag"
    )
    both = bool((info["terminated"] & info["truncated"]).any())
    assert not both, f"{env.name}: a step both terminated and truncated"


def check_auto_reset(env, params) -> None:
    """The step that ends an episode returns the fresh episode's first state and
    observation (from the step key's second half), not the terminal ones. A continuing
    env (`continuing = True`) never ends one."""
    _, state = env.reset(jax.random.key(0), params)
    step = jax.jit(env.step)
    for i in range(RESET_WITHIN):
        key = jax.random.key(100 + i)
        actions = random_actions(jax.random.key(i), env, params)
        obs, state, _, done, _ = step(key, state, actions, params)
        if env.continuing:
            assert not bool(done), f"{env.name}: a continuing env ended an episode"
        elif bool(done):
            fresh = env.init_state(jax.random.split(key)[1], params)
            _assert_leaves_equal(obs, env.observe(fresh, params), f"{env.name}: reset obs")
            _assert_leaves_equal(state, fresh, f"{env.name}: reset state")
            return
    if env.continuing:
        return
    raise AssertionError(
        f"{env.name}: no episode ended in {RESET_WITHIN} random steps; make a shorter "
        "episode for the check (or set `continuing = True` if episodes never end)"
    )


def check_deterministic(env, params) -> None:
    """The same key gives the same rollout; another key another one."""
    run = jax.jit(lambda k: random_rollout(env, params, k, STEPS))
    first = run(jax.random.key(7))
    _assert_leaves_equal(run(jax.random.key(7)), first, f"{env.name}: same key, other rollout")
    assert not _leaves_equal(run(jax.random.key(8)), first), f"{env.name}: keys change nothing"


def check_params_vmap(env, params) -> None:
    """A vmap over two param sets computes what two separate runs compute."""
    scaled = jax.tree.map(lambda x: x * 0.9 if jnp.issubdtype(x.dtype, jnp.floating) else x, params)
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), params, scaled)
    keys = jax.random.split(jax.random.key(3), 2)

    def run(k, p):
        return random_rollout(env, p, k, STEPS)

    together = jax.jit(jax.vmap(run))(keys, batch)
    for i, p in enumerate((params, scaled)):
        alone = jax.jit(run)(keys[i], p)
        for a, b in zip(jax.tree.leaves(together), jax.tree.leaves(alone), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-6, atol=1e-6, err_msg=env.name)


def check_action_space(env, params) -> None:
    """Sampled actions lie in the action space and cover it from 0 to n - 1."""
    space = env.action_space(params)
    sampled = jax.vmap(space.sample)(jax.random.split(jax.random.key(0), 64))
    assert bool(jax.vmap(space.contains)(sampled).all()), f"{env.name}: samples outside"
    lo, hi = int(sampled.min()), int(sampled.max())
    assert (lo, hi) == (0, space.n - 1), f"{env.name}: 64 samples span [{lo}, {hi}]"


def check_render(env, params) -> None:
    """`render` draws a uint8 RGB image of a fixed shape that changes with the state."""
    step, render = jax.jit(env.step), jax.jit(env.render)
    _, state = env.reset(jax.random.key(0), params)
    first = render(state, params)
    assert first.dtype == jnp.uint8 and first.ndim == 3 and first.shape[-1] == 3, (
        f"{env.name}: render gave {first.dtype}{first.shape}, expected uint8[H, W, 3]"
    )
    images = [first]
    for i in range(3):
        actions = jnp.full(env.num_agents, i % 2, jnp.int32)
        _, state, *_ = step(jax.random.key(i), state, actions, params)
        images.append(render(state, params))
    assert all(im.shape == first.shape for im in images), f"{env.name}: image shape changed"
    assert any(not np.array_equal(im, first) for im in images[1:]), f"{env.name}: image frozen"


def _bad_actions(env, params, valid):
    """`valid` with out-of-range actions (n, -1, n + 7, -100, ...) at every other agent,
    agent 0 included, and the actions the contract says they stand for."""
    n = env.action_space(params).n
    bad = np.asarray(valid).copy()
    bad[::2] = np.resize([n, -1, n + 7, -100], len(bad[::2]))
    replaced = np.asarray(valid).copy()
    replaced[::2] = env.invalid_action
    return jnp.asarray(bad, valid.dtype), jnp.asarray(replaced, valid.dtype)


def check_invalid_actions_under_jit(env, params) -> None:
    """Inside jit an out-of-range action is played exactly as `env.invalid_action`."""
    n = env.action_space(params).n
    assert 0 <= env.invalid_action < n, f"{env.name}: invalid_action outside [0, {n - 1}]"
    _, state = env.reset(jax.random.key(0), params)
    bad, replaced = _bad_actions(env, params, random_actions(jax.random.key(1), env, params))
    step = jax.jit(env.step)
    got = step(jax.random.key(2), state, bad, params)
    want = step(jax.random.key(2), state, replaced, params)
    _assert_leaves_equal(got, want, f"{env.name}: bad actions are not invalid_action")


def check_invalid_actions_refused(env, params) -> None:
    """Outside jit, out-of-range actions raise a ValueError naming env, agents and range."""
    n = env.action_space(params).n
    _, state = env.reset(jax.random.key(0), params)
    bad, _ = _bad_actions(env, params, jnp.zeros(env.num_agents, jnp.int32))
    agents = list(range(0, env.num_agents, 2))
    expected = rf"^{re.escape(env.name)}: actions .* of agents {re.escape(str(agents))} are "
    expected += re.escape(f"outside the action space [0, {n - 1}]") + "$"
    try:
        env.step(jax.random.key(1), state, bad, params)
    except ValueError as err:
        assert re.match(expected, str(err)), f"{env.name}: unexpected message {err}"
        return
    raise AssertionError(f"{env.name}: out-of-range actions {bad.tolist()} were accepted")


def check_params_refused(env, params) -> None:
    """Non-finite float params and negative integer params are refused at `reset` and
    `step` outside jit (every integer param counts something; bool params are switches
    and not tried), though `params.replace` bypasses `marl.make`."""
    _, state = env.reset(jax.random.key(0), params)
    actions = jnp.zeros(env.num_agents, jnp.int32)
    calls = {
        "step": lambda p: env.step(jax.random.key(1), state, actions, p),
        "reset": lambda p: env.reset(jax.random.key(1), p),
    }
    for field in dataclasses.fields(params):
        leaf = getattr(params, field.name)
        if leaf.dtype == jnp.bool_:
            continue  # a switch: every value is valid
        floating = jnp.issubdtype(leaf.dtype, jnp.floating)
        for value in (np.nan, np.inf) if floating else (-1,):
            bad = params.replace(**{field.name: jnp.full_like(leaf, value)})
            expected = rf"{re.escape(env.name)}: param {field.name}=.* out of range"
            for call_name, call in calls.items():
                try:
                    call(bad)
                except ValueError as err:
                    assert re.search(expected, str(err)), f"unexpected message: {err}"
                    continue
                raise AssertionError(f"{env.name}: {call_name} accepted {field.name}={value}")


# name -> check, in the order `check_env` runs them.
CHECKS: dict[str, Callable] = {
    "jits_once": check_jits_once,
    "rollout_values": check_rollout_values,
    "auto_reset": check_auto_reset,
    "deterministic": check_deterministic,
    "params_vmap": check_params_vmap,
    "action_space": check_action_space,
    "render": check_render,
    "invalid_actions_under_jit": check_invalid_actions_under_jit,
    "invalid_actions_refused": check_invalid_actions_refused,
    "params_refused": check_params_refused,
}


def check_env(env, params=None, *, skip: tuple[str, ...] = ()) -> None:
    """Run every contract check on `env` (with `params`, default its own), except the
    names in `skip` (e.g. `skip=("render",)` for an env without a renderer yet)."""
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks {unknown}; checks: {', '.join(CHECKS)}")
    params = env.default_params if params is None else params
    for name, check in CHECKS.items():
        if name not in skip:
            check(env, params)

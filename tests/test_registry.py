"""Bad input fails with a clear ValueError before anything compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import marl


def test_list_envs_has_every_builtin():
    expected = {"ipd", "ipd_classic", "stag_hunt", "chicken", "battle_of_sexes"}
    expected |= {"matching_pennies", "spatial_pd", "spgg"}
    assert expected <= set(marl.list_envs())


def test_unknown_env_lists_the_registered_names():
    with pytest.raises(ValueError, match=r"unknown environment 'ipdd'.*ipd.*spgg"):
        marl.make("ipdd")


def test_unknown_override_names_key_and_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown override horizn.*params: .*horizon"):
        marl.make("ipd", horizn=10)


def test_override_sets_param_and_constructor_argument():
    env, params = marl.make("spgg", num_agents=4, penalty=2.0)
    assert env.num_agents == 4
    assert float(params.penalty) == 2.0
    assert float(params.threshold) == pytest.approx(0.85 * 4)


def test_fractional_value_for_an_integer_param_is_refused():
    with pytest.raises(ValueError, match=r"horizon=10.7 must be a whole number"):
        marl.make("ipd", horizon=10.7)


def test_override_with_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"payoff must have shape \(2, 2, 2\)"):
        marl.make("ipd", payoff=[[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "name, overrides, match",
    [
        ("spatial_pd", {"dilemma": 1.5}, r"dilemma=1.5 is out of range; allowed \[0.0, 1.0\]"),
        ("spatial_pd", {"dilemma": -0.1}, r"dilemma"),
        ("ipd", {"continue_prob": -0.2}, r"continue_prob.*allowed \(0.0, 1.0\]"),
        ("ipd", {"horizon": 0}, r"horizon=0 is out of range"),
        ("spgg", {"penalty": -1.0}, r"penalty"),
        ("spgg", {"threshold": 7.0}, r"threshold=7.0.*\[0.0, 3.0\]"),
        ("ipd", {"payoff": [[[0, np.nan], [0, 0]], [[0, 0], [0, 0]]]}, r"payoff=\[nan\]"),
    ],
)
def test_out_of_range_param_is_refused(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        marl.make(name, **overrides)


def test_out_of_range_param_passed_to_reset_is_refused():
    env, params = marl.make("spatial_pd", size=5)
    with pytest.raises(ValueError, match="dilemma"):
        env.reset(jax.random.key(0), params.replace(dilemma=jnp.asarray(2.0)))


@pytest.mark.parametrize(
    "name, overrides, match",
    [
        (
            "spgg",
            {"reward_mode": "greedy"},
            r"reward_mode='greedy' is not one of \['classic', 'mac'\]",
        ),
        ("spgg", {"observation": "none"}, r"observation"),
        ("spgg", {"num_agents": 1}, r"num_agents must be >= 2"),
        ("spatial_pd", {"size": 2}, r"size must be >= 3"),
    ],
)
def test_bad_constructor_argument_is_refused(name, overrides, match):
    with pytest.raises(ValueError, match=match):
        marl.make(name, **overrides)


def test_unknown_preset_lists_presets():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'; presets: 30x30, 40x40, 50x50"):
        marl.make("spatial_pd", preset="huge")


def test_preset_sets_size():
    env, _ = marl.make("spatial_pd", preset="40x40")
    assert env.num_agents == 1600


@pytest.mark.parametrize(
    "actions, match",
    [
        (jnp.zeros(3, jnp.int32), r"shape \(2,\)"),
        (jnp.zeros((2, 1), jnp.int32), r"shape \(2,\)"),
        (jnp.zeros(2, jnp.float32), r"integer array, got dtype float32"),
    ],
)
def test_wrong_action_array_is_refused_at_trace_time(actions, match):
    env, params = marl.make("ipd")
    _, state = env.reset(jax.random.key(0), params)
    with pytest.raises(ValueError, match=match):
        jax.jit(env.step)(jax.random.key(1), state, actions, params)


def test_the_api_docs_list_every_registered_env_with_its_presets_and_arguments():
    """docs/api.md's registry section names every env, each in the table with its
    presets and constructor arguments, so the page cannot fall behind the registry."""
    import re
    from pathlib import Path

    from marl.registry import _constructor_args, spec

    page = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    section = page[page.index("## Registry") : page.index("## Write your own environment")]
    listed = re.search(r"registered names, sorted: (.*?), and those", section, re.S).group(1)
    assert re.findall(r"`(\w+)`", listed) == marl.list_envs()
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    for name in marl.list_envs():
        (row,) = [r for r in rows if f"`{name}`" in r.split("|")[1]]
        _, presets, arguments = (cell.strip() for cell in row.strip("|").split("|"))
        assert set(re.findall(r"`(\w+)`", arguments)) == _constructor_args(spec(name).entry), name
        shown = set(re.findall(r"`(\w+)`", presets.split("(")[0]))
        assert shown == set(spec(name).presets), name

"""`marl-bench` behaviour: rows, JSON, table and bad input (no timing assertions)."""

import json
import math
import sys

import jax.numpy as jnp
import pytest

from marl import bench


def test_json_has_one_row_per_env_and_num_envs_with_finite_rates(tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = ["--envs", "ipd,spgg", "--num-envs", "1,4", "--quick", "--steps", "3"]
    assert bench.main([*argv, "--repeats", "1", "--json", str(path)]) == 0

    result = json.loads(path.read_text())
    rows = result["rows"]
    assert [(r["env"], r["num_envs"]) for r in rows] == [
        ("ipd", 1),
        ("ipd", 4),
        ("spgg", 1),
        ("spgg", 4),
    ]
    for row in rows:
        assert row["num_steps"] == 3
        assert row["compile_s"] > 0
        for rate in ("env_steps_per_s", "agent_steps_per_s"):
            assert math.isfinite(row[rate]) and row[rate] > 0
        assert row["agent_steps_per_s"] == pytest.approx(row["env_steps_per_s"] * row["num_agents"])
    assert {"jax", "backend", "device_kind", "cpu_count"} <= set(result["machine"])

    table = capsys.readouterr().out
    assert "env-steps/s" in table and "agent-steps/s" in table
    assert "ipd" in table and "spgg" in table


def test_train_json_has_a_training_row_per_num_envs_with_finite_rates(tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = ["--train", "--envs", "ipd", "--num-envs", "4", "--quick", "--updates", "2"]
    assert bench.main([*argv, "--repeats", "1", "--json", str(path)]) == 0

    result = json.loads(path.read_text())
    assert result["rows"] == []  # no env-benchmark rows with --train
    (row,) = result["train"]
    assert (row["kind"], row["env"], row["algo"]) == ("train", "ipd", "ppo")
    assert (row["num_envs"], row["num_agents"], row["num_seeds"]) == (4, 2, 1)
    assert row["batch"] == f"4x{row['num_steps']}"
    assert row["steps_per_update"] == 4 * row["num_steps"]
    assert row["updates_per_call"] == 2
    assert "algo.num_envs=4" in row["overrides"] and "env=ipd" in row["overrides"]
    assert row["compile_s"] > 0 and row["call_s"] > 0
    for rate in ("env_steps_per_s", "agent_steps_per_s"):
        assert math.isfinite(row[rate]) and row[rate] > 0
    assert row["env_steps_per_s"] == pytest.approx(2 * row["steps_per_update"] / row["call_s"])
    assert row["agent_steps_per_s"] == pytest.approx(row["env_steps_per_s"] * 2)
    # Shared MLP 64x64 with separate actor (2 logits) and critic on 5 ipd features.
    assert row["params"] == 2 * (5 * 64 + 64 + 64 * 64 + 64) + (64 * 2 + 2) + (64 + 1)
    assert row["network"].startswith("mlp 64x64")

    table = capsys.readouterr().out
    assert "batch N x T" in table and "4x64" in table and "params" in table


def test_train_rejects_an_env_without_a_config_and_steps(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--train", "--envs", "ipd,nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "nope" in err and "spatial_pd" in err
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--train", "--steps", "3"])
    assert exit_info.value.code == 2
    assert "--updates" in capsys.readouterr().err


def test_train_set_overrides_reach_the_trainer(tmp_path, capsys):
    path = tmp_path / "bench.json"
    argv = ["--train", "--envs", "ipd", "--num-envs", "2", "--updates", "1", "--repeats", "1"]
    assert bench.main([*argv, "--set", "algo.network.hidden=[8]", "--json", str(path)]) == 0

    (row,) = json.loads(path.read_text())["train"]
    assert row["overrides"][-1] == "algo.network.hidden=[8]"  # after the benchmark's own
    assert "algo.num_envs=2" in row["overrides"]
    # One hidden layer of 8 in the actor and in the critic, on 5 ipd features, 2 actions.
    assert row["params"] == 2 * (5 * 8 + 8) + (8 * 2 + 2) + (8 + 1)
    assert row["network"].startswith("mlp 8 tanh")
    assert "network: mlp 8 tanh" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("algo.nope=1", "algo.nope"),  # Hydra: not a key of the config
        ("algo.network.torso=rnn", "rnn"),  # marl.train.setup: not an allowed value
        ("algo.num_envs=8", "--num-envs"),  # the benchmark's own key
        ("algo.lr", "KEY=VALUE"),  # not an override
    ],
)
def test_train_bad_set_exits_naming_it_before_compiling(override, named, monkeypatch, capsys):
    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled despite a bad --set")

    monkeypatch.setattr(bench.train, "time_compiled", no_compiling)
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--train", "--envs", "ipd", "--num-envs", "2", "--set", override])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert named in captured.err and "--set" in captured.err
    assert captured.out == ""  # nothing ran


def test_set_without_train_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--envs", "ipd", "--set", "algo.lr=0.1"])
    assert exit_info.value.code == 2
    assert "--train" in capsys.readouterr().err


def test_train_num_envs_are_smaller_for_envs_with_many_agents():
    many, few = bench.train_num_envs(900, quick=False), bench.train_num_envs(2, quick=False)
    assert len(many) == len(few) and all(m < f for m, f in zip(many, few, strict=True))
    assert set(bench.train_num_envs(2, quick=True)) <= set(bench.train_num_envs(2, quick=False))


def test_unknown_env_exits_with_the_valid_names(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--envs", "ipd,ipdd", "--quick"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "ipdd" in err and "spatial_pd" in err and "stag_hunt" in err


@pytest.mark.parametrize("value", ["0", "1,x", ""])
def test_bad_num_envs_is_an_argument_error(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--envs", "ipd", "--num-envs", value])
    assert exit_info.value.code == 2
    assert "--num-envs" in capsys.readouterr().err


def test_steps_per_call_keeps_agent_steps_fixed_within_bounds():
    sizes = bench.Sizes(agent_steps_per_call=1000, min_steps=2, max_steps=50, repeats=1, warmup=0)
    assert bench.steps_per_call(10, 2, sizes) == 50  # 1000 / 20 = 50
    assert bench.steps_per_call(1, 2, sizes) == 50  # capped
    assert bench.steps_per_call(100, 900, sizes) == 2  # floored


def test_time_compiled_returns_compile_and_call_seconds():
    compile_s, call_s = bench.time_compiled(lambda x: x * 2, jnp.ones(3), repeats=2)
    assert compile_s > 0 and call_s > 0


def test_peers_without_jaxmarl_exits_naming_the_bench_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "jaxmarl", None)  # `import jaxmarl` fails
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--peers", "--quick"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "JaxMARL" in err and "marl-dilemmas[bench]" in err
    with pytest.raises(SystemExit):  # and it compares coin_game only
        bench.main(["--peers", "--envs", "ipd"])
    assert "--peers compares coin_game only" in capsys.readouterr().err

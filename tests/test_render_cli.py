"""`marl-render`: GIFs of random and loaded policies, and bad command lines."""

import sys
import types

import imageio.v3 as iio
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import marl
from marl import render_cli


def gif_frames_and_duration(path):
    """All frames (RGB) and the summed frame delays in ms (identical consecutive frames may
    be merged into one longer frame by the encoder)."""
    with Image.open(path) as image:
        durations = []
        for i in range(image.n_frames):
            image.seek(i)
            durations.append(image.info["duration"])
    return iio.imread(path), sum(durations)


def red_agent_cell(frame):
    """(row, column) of coin_game's red agent: its square covers pixel (5, 5) of a 32-px cell
    (left of blue's half when they share one), which a coin's disc never reaches."""
    probe = frame[5::32, 5::32].astype(int)  # [3, 3, 3]
    (cell,) = np.argwhere(np.abs(probe - [220, 70, 60]).sum(-1) < 30)
    return tuple(int(v) for v in cell)


def test_coin_game_gif_is_one_episode_of_upscaled_frames(tmp_path, capsys):
    path = tmp_path / "coin.gif"
    assert (
        render_cli.main(["--env", "coin_game", "--scale", "2", "--fps=20", "--out", str(path)]) == 0
    )
    frames, duration = gif_frames_and_duration(path)
    env, params = marl.make("coin_game")
    length = int(params.episode_length)
    # The first state and one frame per step; agents move every step, so no frame repeats.
    assert frames.shape == (length + 1, 2 * 96, 2 * 96, 3)
    assert duration == pytest.approx((length + 1) * 50)
    assert f"{length + 1} frames" in capsys.readouterr().out


def test_harvest_gif_has_a_frame_per_step_at_the_render_size(tmp_path):
    path = tmp_path / "sub" / "harvest.gif"  # missing folders are created
    assert render_cli.main(["env=harvest", "steps=3", "seed=1", f"out={path}"]) == 0
    env, params = marl.make("harvest")
    state = jax.eval_shape(env.init_state, jax.random.key(0), params)
    height, width, _ = jax.eval_shape(env.render, state, params).shape
    frames, duration = gif_frames_and_duration(path)
    assert frames.shape[1:] == (height, width, 3) and 1 <= len(frames) <= 4
    assert duration == pytest.approx(4 * 100)  # fps=10 by default


def test_checkpoint_plays_the_loaded_policy_in_the_runs_env(tmp_path, monkeypatch):
    env, params = marl.make("coin_game", preset="lola")  # 150-step episodes
    calls = []

    def load(run_dir, seed=0):
        calls.append((run_dir, seed))
        policy = types.SimpleNamespace(
            init=lambda: jnp.zeros((), jnp.int32),
            act=lambda key, obs, carry, done: (jnp.zeros(2, jnp.int32), carry + 1),
        )
        return types.SimpleNamespace(env=env, env_params=params, policy=policy)

    monkeypatch.setitem(sys.modules, "marl.policy", types.SimpleNamespace(load=load))
    path = tmp_path / "run.gif"
    argv = [f"checkpoint={tmp_path}", "policy_seed=1", "steps=4", f"out={path}"]
    assert render_cli.main(argv) == 0
    assert calls == [(str(tmp_path), 1)]
    frames = iio.imread(path)
    assert frames.shape == (5, 96, 96, 3)
    # The policy always goes north (action 0): red moves up one row a step on the torus.
    red = [red_agent_cell(frame) for frame in frames]
    assert [r[1] for r in red] == [red[0][1]] * 5
    assert [r[0] for r in red] == [(red[0][0] - t) % 3 for t in range(5)]

    assert render_cli.main(["env=harvest", f"checkpoint={tmp_path}", f"out={path}"]) == 2


def test_checkpoint_without_marl_policy_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "marl.policy", None)  # import fails
    assert render_cli.main([f"checkpoint={tmp_path}", f"out={tmp_path / 'x.gif'}"]) == 2
    assert "marl.policy" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["env=coin_gam"], "unknown environment 'coin_gam'; registered: "),
        (["env=coin_game", "colour=red"], "unknown option 'colour'"),
        (["--env", "coin_game", "--colour", "red"], "unknown option 'colour'"),
        (["--env", "--seed", "1"], "--env needs a value"),
        (["env=coin_game", "preset=nope"], "unknown preset 'nope'"),
        (["env=coin_game", "steps=0"], "steps='0' must be >= 1"),
        (["env=coin_game", "fps=fast"], "fps='fast' is not a number"),
        (["--env=coin_game", "coin_game"], "expected --key value"),
        (
            ["--env", "coin_game", "--policy-seed", "1"],
            "--policy-seed applies to --checkpoint only",
        ),
    ],
)
def test_bad_arguments_fail_before_anything_runs(argv, message, tmp_path, capsys):
    path = tmp_path / "x.gif"
    assert render_cli.main([*argv, f"out={path}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "usage: marl-render" in err
    assert not path.exists()


def test_out_must_be_a_gif(capsys):
    assert render_cli.main(["env=coin_game", "out=x.png"]) == 2
    assert "must end in .gif" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        # 10^8 IPD frames of 64x32 px: 572 GiB, which used to abort the process
        (["env=ipd", "steps=100000000"], "steps=100000000 x scale=1: 100000001 frames"),
        # cleanup's 1000-step episode at scale 5: 1001 frames of 1200x840 px, 2.8 GiB
        (["env=cleanup", "scale=5"], "steps=1000 (the default) x scale=5"),
    ],
)
def test_frames_over_the_memory_limit_fail_before_compiling(
    argv, message, tmp_path, monkeypatch, capsys
):
    def compile_(*args, **kwargs):
        raise AssertionError("compiled")

    monkeypatch.setattr(render_cli.jax, "jit", compile_)
    path = tmp_path / "x.gif"
    assert render_cli.main([*argv, f"out={path}"]) == 2
    err = capsys.readouterr().err
    assert message in err and "over the limit of 2 GiB of frames" in err
    assert not path.exists()


def test_the_frame_limit_admits_every_default_episode_at_scale_4():
    # 1001 frames of cleanup (the largest: 240x168 px) at scale 4 are 1.9 GiB
    args = render_cli.Args(out="x.gif", scale=4)
    render_cli.check_frame_bytes(1000, 168, 240, args)
    with pytest.raises(render_cli.UsageError):
        render_cli.check_frame_bytes(1000, 168, 240, render_cli.Args(out="x.gif", scale=5))


def test_an_episode_stops_at_the_first_done():
    env, params = marl.make("spgg")  # ends after its n positions have played
    init, act = render_cli.random_policy(env, params)
    run = jax.jit(render_cli.episode_frames(env, params, init, act, num_steps=10))
    frames, dones = run(jax.random.key(0))
    assert frames.shape[0] == 11 and frames.dtype == np.uint8
    assert int(np.argmax(dones)) + 1 == env.num_agents


def test_the_old_key_value_spelling_works_with_a_note_naming_the_flags(capsys):
    old = render_cli.parse_args(["env=coin_game", "fps=5", "out=x.gif"])
    note = capsys.readouterr().err
    assert "key=value is deprecated; write --env coin_game --fps 5 --out x.gif" in note
    assert old == render_cli.parse_args(["--env", "coin_game", "--fps", "5", "--out=x.gif"])
    assert capsys.readouterr().err == ""  # the flags need no note

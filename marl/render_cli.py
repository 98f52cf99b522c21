"""`marl-render`: a GIF of one episode, played by random or trained policies.

    marl-render --env NAME [--preset P] [--checkpoint RUN_DIR] [--policy-seed 0] [--seed 0]
                [--steps N] [--fps 10] [--scale 1] --out PATH.gif

examples:
    marl-render --env harvest --out harvest.gif
    marl-render --env cleanup --preset ssd --steps 200 --scale 2 --out cleanup.gif
    marl-render --checkpoint runs/mine --policy-seed 1 --out trained.gif

Options are flags, like every marl command's (`--key value` or `--key=value`); the older
`key=value` spelling still works, with a note that it is deprecated. Without
`--checkpoint`, every agent acts uniformly at random; with it, the trained policies of
that `marl-train` run folder act (`marl.policy.load`; `--policy-seed` picks which of the
run's seeds), and the env and its params are the run's. Without `--steps`, one episode is
played: the env's episode length (`episode_length` or `horizon`), cut after the first
step that ends an episode; with `--steps N`, N steps are played across auto-resets. The
GIF holds the first state and the state after every step (the terminal state itself,
before the auto-reset replaces it).

The whole episode, rendering included, is one jitted `lax.scan`. Bad arguments fail with
a usage message before anything compiles: among them an `--out` that cannot be written
(`marl.paths.check_writable`) and a GIF whose frames would take more than
`MAX_FRAME_BYTES` (2 GiB) of memory: (frames) x (height x scale) x (width x scale) x 3
bytes, where frames = steps + 1 and height x width is the env's render size.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

import marl
from marl.paths import check_writable
from marl.registry import spec
from marl.rollout import episode_length, random_actions

KEYS = ("env", "preset", "checkpoint", "policy_seed", "seed", "steps", "fps", "scale", "out")
USAGE = (
    "usage: marl-render --env NAME [--preset P] [--checkpoint RUN_DIR] [--policy-seed 0] "
    "[--seed 0] [--steps N] [--fps 10] [--scale 1] --out PATH.gif"
)
# Without an episode length to go by (continuing envs), this many steps are played.
FALLBACK_STEPS = 100
MAX_FPS = 50  # GIF frame delays are whole centiseconds; viewers slow down shorter ones
MAX_SCALE = 16
# The upscaled frames are held in memory at once (and copied by the GIF encoder); past
# this many bytes a render would exhaust the machine instead of failing cleanly.
MAX_FRAME_BYTES = 2 * 2**30


class UsageError(ValueError):
    """A bad command line: reported with the usage line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Args:
    out: str
    env: str | None = None
    preset: str | None = None
    checkpoint: str | None = None
    policy_seed: int = 0
    seed: int = 0
    steps: int | None = None  # None: one episode
    fps: float = 10.0
    scale: int = 1


def _number(key: str, text: str, kind: type, low: float, high: float | None = None):
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise UsageError(f"{key}={text!r} is not {what}") from None
    if not value >= low or (high is not None and not value <= high):  # NaN fails too
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise UsageError(f"{key}={text!r} must be {bounds}")
    return value


def _pairs(argv: Sequence[str]) -> dict[str, str]:
    """`--key value`, `--key=value` and the deprecated `key=value` to {key: value}."""
    pairs: dict[str, str] = {}
    old_spelling = []
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg.startswith("--"):
            key, sep, value = arg[2:].partition("=")
            key = key.replace("-", "_")
            if not sep:
                if not args or args[0].startswith("--"):
                    raise UsageError(f"{arg} needs a value")
                value = args.pop(0)
        else:
            key, sep, value = arg.partition("=")
            if not sep or not key:
                raise UsageError(f"expected --key value, got {arg!r}")
            old_spelling.append(arg)
        if key not in KEYS:
            raise UsageError(f"unknown option {key!r}; options: {', '.join(KEYS)}")
        if key in pairs:
            raise UsageError(f"{key} given twice")
        pairs[key] = value
    if old_spelling:
        flags = " ".join(
            f"--{a.partition('=')[0].replace('_', '-')} {a.partition('=')[2]}" for a in old_spelling
        )
        print(f"marl-render: note: key=value is deprecated; write {flags}", file=sys.stderr)
    return pairs


def parse_args(argv: Sequence[str]) -> Args:
    """Command-line options to `Args`; unknown options, bad values and unknown envs are
    errors."""
    pairs = _pairs(argv)
    if "out" not in pairs:
        raise UsageError("--out PATH.gif is required")
    if not pairs["out"].lower().endswith(".gif"):
        raise UsageError(f"out={pairs['out']!r} must end in .gif")
    try:
        check_writable(pairs["out"])
    except ValueError as err:
        raise UsageError(f"out={pairs['out']!r}: {err}") from None
    if "env" not in pairs and "checkpoint" not in pairs:
        raise UsageError("--env NAME is required (or --checkpoint RUN_DIR)")
    if "checkpoint" in pairs:
        if "preset" in pairs:
            raise UsageError("--preset cannot be combined with --checkpoint: the run fixes it")
        if not os.path.isdir(pairs["checkpoint"]):
            raise UsageError(f"checkpoint={pairs['checkpoint']!r} is not a directory")
    elif "policy_seed" in pairs:
        raise UsageError("--policy-seed applies to --checkpoint only")
    if "env" in pairs:
        try:
            env_spec = spec(pairs["env"])
        except ValueError as err:
            raise UsageError(str(err)) from None
        preset = pairs.get("preset")
        if preset is not None and preset not in env_spec.presets:
            choices = ", ".join(sorted(env_spec.presets)) or "none"
            raise UsageError(f"{pairs['env']}: unknown preset {preset!r}; presets: {choices}")
    return Args(
        out=pairs["out"],
        env=pairs.get("env"),
        preset=pairs.get("preset"),
        checkpoint=pairs.get("checkpoint"),
        policy_seed=_number("policy_seed", pairs.get("policy_seed", "0"), int, 0),
        seed=_number("seed", pairs.get("seed", "0"), int, 0),
        steps=_number("steps", pairs["steps"], int, 1) if "steps" in pairs else None,
        fps=_number("fps", pairs.get("fps", "10"), float, 0.1, MAX_FPS),
        scale=_number("scale", pairs.get("scale", "1"), int, 1, MAX_SCALE),
    )


# ---- the episode ----------------------------------------------------------------------------
def random_policy(env, params) -> tuple[Callable, Callable]:
    """(`init() -> carry`, `act(key, obs, carry, done) -> actions, carry`): uniform actions."""
    return (lambda: (), lambda key, obs, carry, done: (random_actions(key, env, params), carry))


def episode_frames(env, params, init: Callable, act: Callable, num_steps: int) -> Callable:
    """`run(key) -> (frames uint8[T + 1, H, W, 3], done bool[T])`, jittable.

    The env is stepped through its three pieces (`transition`, `init_state`, `observe`) as
    `Env.step` does, so that the frame after an episode's last step shows its terminal
    state rather than the fresh state of the auto-reset.
    """

    def run(key):
        key_reset, key_steps = jax.random.split(key)
        obs, state = env.reset(key_reset, params)

        def one_step(carry, step_key):
            obs, state, policy_carry, done = carry
            key_act, key_rules, key_reset = jax.random.split(step_key, 3)
            actions, policy_carry = act(key_act, obs, policy_carry, done)
            state, _, done, _ = env.transition(key_rules, state, actions, params)
            frame = env.render(state, params)
            fresh = env.init_state(key_reset, params)
            state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, state)
            return (env.observe(state, params), state, policy_carry, done), (frame, done)

        # `done` tells the policy that an episode starts (a recurrent one resets its memory).
        start = (obs, state, init(), jnp.asarray(True))
        first = env.render(state, params)
        _, (frames, dones) = jax.lax.scan(one_step, start, jax.random.split(key_steps, num_steps))
        return jnp.concatenate([first[None], frames]), dones

    return run


def load_run(args: Args):
    """(env, params, init, act) of the trained policies in `args.checkpoint`."""
    try:
        policy_module = importlib.import_module("marl.policy")
    except ImportError as err:
        raise UsageError(
            f"checkpoint= needs marl.policy, which cannot be imported here ({err})"
        ) from None
    try:  # a missing config or checkpoint, a seed the run does not have
        loaded = policy_module.load(args.checkpoint, seed=args.policy_seed)
    except ValueError as err:
        raise UsageError(str(err)) from None
    env = getattr(loaded.env, "unwrapped", loaded.env)  # wrappers change rewards, not obs
    if args.env is not None and env.name != args.env:
        raise UsageError(f"env={args.env!r} but the run in {args.checkpoint!r} is {env.name!r}")
    return env, loaded.env_params, loaded.policy.init, loaded.policy.act


def render_episode(args: Args) -> tuple[np.ndarray, int]:
    """The GIF's frames (upscaled) and the number of steps they show."""
    if args.checkpoint is not None:
        env, params, init, act = load_run(args)
    else:
        env, params = marl.make(args.env, **({"preset": args.preset} if args.preset else {}))
        init, act = random_policy(env, params)
    try:  # tracing only: an env without a renderer fails here, before the compile
        state = jax.eval_shape(env.init_state, jax.random.key(0), params)
        height, width = jax.eval_shape(env.render, state, params).shape[:2]
    except NotImplementedError as err:
        raise UsageError(str(err)) from None
    length = episode_length(env, params)
    num_steps = args.steps or length or FALLBACK_STEPS
    check_frame_bytes(num_steps, height, width, args)
    run = jax.jit(episode_frames(env, params, init, act, num_steps))
    frames, dones = jax.device_get(run(jax.random.key(args.seed)))
    if args.steps is None and dones.any():  # one episode: stop at its last step
        num_steps = int(np.argmax(dones)) + 1
        frames = frames[: num_steps + 1]
    if args.scale > 1:
        frames = np.repeat(np.repeat(frames, args.scale, axis=1), args.scale, axis=2)
    return frames, num_steps


def check_frame_bytes(num_steps: int, height: int, width: int, args: Args) -> None:
    """UsageError if the upscaled frames of `num_steps` steps exceed `MAX_FRAME_BYTES`."""
    frames = num_steps + 1
    size = frames * (height * args.scale) * (width * args.scale) * 3
    if size > MAX_FRAME_BYTES:
        steps = f"steps={num_steps}" + ("" if args.steps else " (the default)")
        raise UsageError(
            f"{steps} x scale={args.scale}: {frames} frames of {width * args.scale}x"
            f"{height * args.scale} px take {size / 2**30:.1f} GiB, over the limit of "
            f"{MAX_FRAME_BYTES / 2**30:g} GiB of frames; lower --steps or --scale"
        )


def write_gif(path: str, frames: np.ndarray, fps: float) -> None:
    """Frames uint8[T, H, W, 3] to a looping GIF. Identical consecutive frames may be merged
    into one longer frame by the encoder (Pillow), which keeps the timing."""
    import imageio.v3 as iio

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    iio.imwrite(path, frames, extension=".gif", duration=1000.0 / fps, loop=0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help", "help") for a in argv):
        print(__doc__)
        return 0
    try:
        args = parse_args(argv)
        frames, num_steps = render_episode(args)
    except UsageError as err:
        print(f"{USAGE}\nmarl-render: error: {err}", file=sys.stderr)
        return 2
    write_gif(args.out, frames, args.fps)
    height, width = frames.shape[1:3]
    print(f"marl-render: {args.out}: {len(frames)} frames ({num_steps} steps), {width}x{height}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the first frame of each gridworld game's default map into docs/envs/img/<name>.png.

    python scripts/render_frames.py [--out docs/envs/img] [--seed 0] [--min-width 320]

The frame is `env.render` of the state `env.reset` gives for `--seed`, with the env's
default preset, upscaled by a whole factor to at least `--min-width` pixels. Games not
registered (yet) are skipped with a note.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import imageio.v3 as iio
import jax
import numpy as np

import marl

GRIDWORLDS = ("coin_game", "gathering", "harvest", "cleanup")
DEFAULT_OUT = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "envs", "img")


def first_frame(name: str, seed: int) -> np.ndarray:
    """uint8[H, W, 3]: the default map's first state, rendered in one compiled call."""
    env, params = marl.make(name)
    render = jax.jit(lambda key: env.render(env.reset(key, params)[1], params))
    return np.asarray(render(jax.random.key(seed)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="reset key of the frame")
    parser.add_argument("--min-width", type=int, default=320, help="upscale to this width")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    registered = set(marl.list_envs())
    for name in GRIDWORLDS:
        if name not in registered:
            print(f"{name}: not registered, skipped")
            continue
        frame = first_frame(name, args.seed)
        scale = max(1, math.ceil(args.min_width / frame.shape[1]))
        frame = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
        path = os.path.normpath(os.path.join(args.out, f"{name}.png"))
        iio.imwrite(path, frame)
        print(f"{name}: {path} ({frame.shape[1]}x{frame.shape[0]}, x{scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

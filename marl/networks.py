"""Policy and value networks (flax.linen): MLP or CNN torso, optional GRU, two heads.

Every network maps one agent's observation (plus an optional agent-id one-hot, which is
joined after the torso so the CNN sees only the image) to logits or a value. A network
with a GRU is applied one step at a time and carries its hidden state; `reset` marks the
first step of an episode, where the hidden state restarts from zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu}
TORSOS = ("mlp", "cnn")


@dataclass(frozen=True)
class NetworkConfig:
    torso: str = "mlp"  # mlp | cnn
    hidden: tuple[int, ...] = (64, 64)  # mlp widths; for cnn the dense layer after the convs
    channels: tuple[int, ...] = (32, 32)  # cnn: one 3x3 convolution per entry
    gru: int = 0  # hidden size of a GRU after the torso; 0 = feed-forward
    activation: str = "tanh"

    def check(self, path):
        from marl.config import fail  # marl.config imports this module

        if self.torso not in TORSOS:
            fail(f"{path}.torso", self.torso, " or ".join(TORSOS))
        if self.activation not in ACTIVATIONS:
            fail(f"{path}.activation", self.activation, " or ".join(ACTIVATIONS))
        if self.gru < 0 or any(w < 1 for w in self.hidden + self.channels):
            fail(path, self, "positive widths and gru >= 0")


class Conv3x3(nn.Module):
    """A 3x3 'SAME' convolution written as shifted slices and one matrix product (im2col).

    Same parameters and initialisation as `nn.Conv(features, (3, 3))` (kernel [3, 3, in,
    out], bias [out]), so the two are interchangeable. Why not `nn.Conv`: inside a jitted
    PPO update, XLA on CPU compiles the kernel gradient as a convolution whose window is
    the whole image and runs it as a naive loop (compiled alone, the same gradient is
    fast): one PPO update of 64 env-steps on gathering took 11 s with `nn.Conv` and 0.63 s
    with this.
    Alone, XLA's convolutions are faster than im2col, but a custom gradient that kept them
    for the forward pass and the input gradient was slower in the whole update (measured).
    """

    features: int

    @nn.compact
    def __call__(self, x):
        channels = x.shape[-1]
        kernel = self.param(
            "kernel", nn.initializers.lecun_normal(), (3, 3, channels, self.features)
        )
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        height, width = x.shape[-3:-1]
        padded = jnp.pad(x, [(0, 0)] * (x.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
        # patches[..., h, w, (3 * di + dj) * C + c] = padded[..., h + di, w + dj, c], the
        # row order of the kernel reshaped to [9 * C, out].
        shifted = [
            padded[..., di : di + height, dj : dj + width, :] for di in range(3) for dj in range(3)
        ]
        patches = jnp.concatenate(shifted, axis=-1)
        return patches @ kernel.reshape(9 * channels, self.features) + bias


class Torso(nn.Module):
    """CNN over [..., H, W, C] grids, then dense layers; an MLP sees flat vectors [..., D]."""

    config: NetworkConfig

    @nn.compact
    def __call__(self, obs):
        act = ACTIVATIONS[self.config.activation]
        x = obs.astype(jnp.float32)
        if self.config.torso == "cnn":
            for i, width in enumerate(self.config.channels):
                x = act(Conv3x3(width, name=f"Conv_{i}")(x))
            x = x.reshape(*x.shape[:-3], -1)
        for width in self.config.hidden:
            x = act(nn.Dense(width, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
        return x


class Head(nn.Module):
    """Torso -> [GRU] -> dense output (`outputs` logits, or 1 value)."""

    config: NetworkConfig
    outputs: int
    scale: float

    @nn.compact
    def __call__(self, hidden, obs, extra, reset):
        x = Torso(self.config)(obs)
        if extra is not None:
            x = jnp.concatenate([x, extra], axis=-1)
        if self.config.gru:
            hidden = jnp.where(reset[..., None], 0.0, hidden)
            hidden, x = nn.GRUCell(self.config.gru)(hidden, x)
        out = nn.Dense(self.outputs, kernel_init=nn.initializers.orthogonal(self.scale))(x)
        return hidden, out


def make_heads(config: NetworkConfig, num_actions: int) -> tuple[Head, Head]:
    """Actor (logits) and critic (value) networks with separate torsos."""
    return Head(config, num_actions, 0.01), Head(config, 1, 1.0)


def initial_hidden(config: NetworkConfig, batch_shape: Sequence[int]) -> jax.Array:
    return jnp.zeros((*batch_shape, max(config.gru, 1)), jnp.float32)

"""The network building blocks: the im2col convolution against flax's `nn.Conv`."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from marl.networks import Conv3x3, NetworkConfig, Torso


@pytest.mark.parametrize("lead", [(2,), (3, 2)])
def test_conv3x3_matches_flax_conv_in_output_and_gradients(lead):
    x = jax.random.normal(jax.random.PRNGKey(1), (*lead, 5, 6, 3))
    ours, reference = Conv3x3(4), nn.Conv(4, (3, 3), padding="SAME")
    params = reference.init(jax.random.PRNGKey(0), x)
    # The same initialisation (so checkpoints and seeds carry over), then shared weights.
    ours_params = ours.init(jax.random.PRNGKey(0), x)
    for a, b in zip(jax.tree.leaves(ours_params), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a nonzero bias too
    np.testing.assert_allclose(ours.apply(params, x), reference.apply(params, x), atol=1e-5)

    def loss(module):
        return lambda p, x: jnp.sin(module.apply(p, x)).sum()

    got = jax.grad(loss(ours), (0, 1))(params, x)
    want = jax.grad(loss(reference), (0, 1))(params, x)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_cnn_torso_gradient_has_no_xla_convolution():
    """XLA on CPU runs the kernel gradient of a convolution inside a training step as a
    naive loop (~20x slower): the CNN torso must not use convolution primitives at all."""
    config = NetworkConfig(torso="cnn", hidden=(8,), channels=(4, 4))
    x = jnp.zeros((2, 6, 7, 3))
    torso = Torso(config)
    params = torso.init(jax.random.PRNGKey(0), x)
    jaxpr = jax.make_jaxpr(jax.grad(lambda p: torso.apply(p, x).sum()))(params)
    assert "conv_general_dilated" not in str(jaxpr)
    assert set(params["params"]) == {"Conv_0", "Conv_1", "Dense_0"}  # names as nn.Conv's

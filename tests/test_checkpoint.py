import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct

from marl.training.checkpoint import Checkpointer, CheckpointMismatch

SEEDS = 3


@struct.dataclass
class Learner:
    params: dict
    rng: jax.Array
    step: jax.Array
    done: jax.Array


def learner(seed: int) -> Learner:
    """A state with a leading seed axis and the leaf dtypes a driver stores."""
    rng = np.random.default_rng(seed)
    return Learner(
        params={
            "actor": {"kernel": jnp.asarray(rng.standard_normal((SEEDS, 4, 2), np.float32))},
            "critic": {"bias": jnp.asarray(rng.standard_normal((SEEDS, 1), np.float32))},
        },
        rng=jax.random.key_data(jax.random.split(jax.random.key(seed), SEEDS)),
        step=jnp.full((SEEDS,), seed, jnp.int32),
        done=jnp.asarray(rng.random(SEEDS) > 0.5),
    )


def leaves(tree):
    return jax.tree_util.tree_flatten_with_path(tree)[0]


def test_round_trip_is_bit_identical_and_keeps_structure(tmp_path):
    saved = learner(1)
    ckpt = Checkpointer(tmp_path / "ckpt")
    ckpt.save(0, saved, {"step": 4096})
    ckpt.close()

    # A fresh Checkpointer (as after a restart) restores into a fresh init's layout.
    with Checkpointer(tmp_path / "ckpt") as reopened:
        restored, _ = reopened.restore(learner(2))

    assert isinstance(restored, Learner)
    assert jax.tree.structure(restored) == jax.tree.structure(saved)
    for (path, a), (_, b) in zip(leaves(restored), leaves(saved), strict=True):
        assert isinstance(a, jax.Array), path
        assert a.dtype == b.dtype and a.shape == b.shape, path
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes(), path
        assert a.devices() == {jax.devices()[0]}, path


def test_meta_round_trips(tmp_path):
    meta = {
        "config": {"algo": {"name": "ppo", "lr": 3e-4}, "seeds": [0, 1, 2]},
        "step": 8192,
        "chunk": 1,
        "note": None,
        "steps_per_chunk": np.int64(4096),  # numpy scalars are stored as plain numbers
    }
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, learner(0), meta)
        _, restored = ckpt.restore(learner(0))
    assert restored == {**meta, "steps_per_chunk": 4096}


def test_keeps_only_the_newest_checkpoints(tmp_path):
    with Checkpointer(tmp_path, keep=2) as ckpt:
        assert ckpt.latest() is None
        for chunk in range(5):
            ckpt.save(chunk, learner(chunk), {"chunk": chunk})
        assert ckpt.latest() == 4
        state, meta = ckpt.restore(learner(0))
        older, older_meta = ckpt.restore(learner(0), chunk=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3", "4"]
    assert meta == {"chunk": 4} and older_meta == {"chunk": 3}
    np.testing.assert_array_equal(state.step, learner(4).step)
    np.testing.assert_array_equal(older.step, learner(3).step)


def test_saving_an_existing_chunk_replaces_it(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, learner(0), {"v": 0})
        ckpt.save(0, learner(1), {"v": 1})
        state, meta = ckpt.restore(learner(0))
    assert meta == {"v": 1}
    np.testing.assert_array_equal(state.step, learner(1).step)


def test_saving_a_chunk_older_than_the_newest_is_refused(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(5, learner(0), {})
        with pytest.raises(ValueError, match="newer chunk 5"):
            ckpt.save(2, learner(0), {})


def test_unfinished_save_is_ignored(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, learner(0), {"chunk": 0})
    # What a run killed mid-save leaves: orbax's temporary directory, never renamed.
    (tmp_path / "1.orbax-checkpoint-tmp" / "state").mkdir(parents=True)
    with Checkpointer(tmp_path) as ckpt:
        assert ckpt.latest() == 0
        _, meta = ckpt.restore(learner(0))
    assert meta == {"chunk": 0}


def test_shape_mismatch_names_the_leaf_and_both_shapes(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, learner(0), {})
        template = learner(0)
        wider = template.replace(
            params={**template.params, "actor": {"kernel": jnp.zeros((3, 4, 5))}}
        )
        with pytest.raises(CheckpointMismatch, match=r"actor/kernel.*\[3, 4, 2\].*\[3, 4, 5\]"):
            ckpt.restore(wider)


def test_dtype_and_structure_mismatches_are_named(tmp_path):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, learner(0), {})
        template = learner(0)
        with pytest.raises(CheckpointMismatch, match=r"'step' is int32\[3\].*float32\[3\]"):
            ckpt.restore(template.replace(step=template.step.astype(jnp.float32)))
        extra = {**template.params, "value_head": {"bias": jnp.zeros((3, 1))}}
        with pytest.raises(CheckpointMismatch, match="value_head/bias.*not in the checkpoint"):
            ckpt.restore(template.replace(params=extra))


def test_restore_without_checkpoint_names_the_directory(tmp_path):
    with Checkpointer(tmp_path / "empty") as ckpt:
        with pytest.raises(FileNotFoundError, match="no checkpoint.*empty"):
            ckpt.restore(learner(0))
        ckpt.save(0, learner(0), {})
        with pytest.raises(FileNotFoundError, match=r"chunk 7.*saved chunks: \[0\]"):
            ckpt.restore(learner(0), chunk=7)


def test_typed_keys_restore_as_the_template_types_them(tmp_path):
    typed = {"key": jax.random.split(jax.random.key(0), SEEDS)}
    raw = {"key": jax.random.key_data(typed["key"])}
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(0, typed, {})
        as_raw, _ = ckpt.restore(raw)
        ckpt.save(1, raw, {})
        as_typed, _ = ckpt.restore(typed)
    assert as_raw["key"].dtype == jnp.uint32
    np.testing.assert_array_equal(as_raw["key"], raw["key"])
    assert jnp.issubdtype(as_typed["key"].dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(as_typed["key"]), raw["key"])

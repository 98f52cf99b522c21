"""Orbax checkpoints of a whole learner state plus a JSON record (resolved config, step...).

One step directory per chunk, `<directory>/<chunk>/{state,meta}`. Orbax writes each into a
temporary directory and renames it when complete, so a run killed mid-save leaves the
previous checkpoint restorable; leftovers of such a save are removed on the next open.

Restoring goes into the structure, shapes and dtypes of a template (a freshly initialised
state). The saved tree is compared with the template first, leaf by leaf, because orbax's
own errors for a mismatch do not say which leaf differs.

Every saved checkpoint gets `<chunk>/checksums.json` (SHA-256 and size of each file), so
flipped or truncated bytes are found before they are restored; `restore_intact` then falls
back to the newest intact checkpoint and moves the damaged ones aside. Ctrl-C or SIGTERM
during a save is held until the save is complete, so a save is never left half-done by
the user.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

_STATE, _META = "state", "meta"
_CHECKSUMS = "checksums.json"


class CheckpointMismatch(ValueError):
    """The saved state does not fit the template it is being restored into."""


class CheckpointDamaged(ValueError):
    """A checkpoint's files are missing, truncated or altered since they were saved."""


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done, then raise KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    caught = []
    held = (signal.SIGINT, signal.SIGTERM)
    before = {sig: signal.signal(sig, lambda num, frame: caught.append(num)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _files(step_dir: Path) -> list[Path]:
    return sorted(p for p in step_dir.rglob("*") if p.is_file() and p.name != _CHECKSUMS)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Orbax logs dozens of INFO lines per save through absl, which reach the console once
    # the app (Hydra) sets the root logger to INFO; warnings and errors still get through.
    logger = logging.getLogger("absl")
    level = logger.level
    if level < logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _key_name(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def _leaf_path(path: tuple) -> str:
    # Orbax stores dataclasses and named tuples as dicts and tuples as lists, so paths are
    # compared by their names only (`params/dense/kernel`, `opt_state/1/0/mu`).
    return "/".join(_key_name(k) for k in path) or "<root>"


def _describe(shape: tuple, dtype: str) -> str:
    return f"{dtype}{list(shape)}"


def _is_key(dtype: Any) -> bool:
    return jnp.issubdtype(dtype, jax.dtypes.prng_key)


def _layouts(tree: Any, on_disk: bool) -> dict[str, tuple[tuple, str]]:
    """Path -> (shape, dtype name) of every leaf; on disk a typed key is its raw uint32 data."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if on_disk and _is_key(leaf.dtype):
            leaf = jax.eval_shape(jax.random.key_data, leaf)
        out[_leaf_path(path)] = (tuple(leaf.shape), str(leaf.dtype))
    return out


def _as_template_key(target: Any, leaf: jax.Array, template_leaf: Any) -> jax.Array:
    """Gives `leaf` the key type of the template; orbax restores keys typed as they were saved."""
    if _is_key(target.dtype) and not _is_key(leaf.dtype):
        impl = (
            jax.random.key_impl(template_leaf)
            if isinstance(template_leaf, jax.Array)
            else target.dtype._impl  # a ShapeDtypeStruct template: no public accessor
        )
        return jax.random.wrap_key_data(leaf, impl=impl)
    if _is_key(leaf.dtype) and not _is_key(target.dtype):
        return jax.random.key_data(leaf)
    return leaf


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray | jax.Array):
        return np.asarray(value).tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"checkpoint meta value {value!r} of type {type(value).__name__} is not JSON")


class Checkpointer:
    """Saves and restores `(state, meta)` per chunk, keeping the newest `keep` checkpoints."""

    def __init__(self, directory: str | Path, keep: int = 2):
        if keep < 1:
            raise ValueError(f"keep must be >= 1 (the newest checkpoints kept), got {keep}")
        # Absolute now, so a later change of working directory cannot move the checkpoints.
        self.directory = Path(directory).expanduser().resolve()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep,
            create=True,
            enable_async_checkpointing=False,
            cleanup_tmp_directories=True,
        )
        with _quiet():
            self._manager = ocp.CheckpointManager(
                self.directory,
                options=options,
                # Handlers up front: without them, a reopened manager cannot read metadata.
                item_handlers={
                    _STATE: ocp.StandardCheckpointHandler(),
                    _META: ocp.JsonCheckpointHandler(),
                },
            )

    def save(self, chunk: int, state: Any, meta: dict) -> None:
        """Writes `state` and `meta` as checkpoint `chunk`; returns once both are on disk.

        Saving a chunk that already exists replaces it. Saving a chunk older than the newest
        one is refused: it would be deleted at once as the oldest, and it usually means a
        fresh run was pointed at an old run's directory.
        """
        chunk = int(chunk)
        latest = self.latest()
        if latest is not None and chunk < latest:
            raise ValueError(
                f"cannot save chunk {chunk} in {self.directory}: it already holds the newer "
                f"chunk {latest}; resume from it or use a fresh directory"
            )
        # Leaves become jax arrays so every leaf is stored (and restored) the same way.
        state = jax.tree.map(jnp.asarray, state)
        meta = json.loads(json.dumps(meta, default=_json_default))
        args = ocp.args.Composite(
            **{_STATE: ocp.args.StandardSave(state), _META: ocp.args.JsonSave(meta)}
        )
        with _interrupts_held(), _quiet():
            if chunk == latest:
                self._manager.delete(chunk)
            # force: orbax otherwise skips, silently, any step not newer than the latest.
            saved = self._manager.save(chunk, args=args, force=True)
            self._manager.wait_until_finished()
            if saved:
                self._write_checksums(chunk)
        if not saved:
            raise RuntimeError(f"orbax did not save chunk {chunk} in {self.directory}")

    def _write_checksums(self, chunk: int) -> None:
        step_dir = self.directory / str(chunk)
        sums = {
            str(p.relative_to(step_dir)): {"sha256": _digest(p), "bytes": p.stat().st_size}
            for p in _files(step_dir)
        }
        partial = step_dir / f".{_CHECKSUMS}.partial"
        partial.write_text(json.dumps(sums, indent=1))
        partial.replace(step_dir / _CHECKSUMS)

    def verify(self, chunk: int) -> None:
        """Raises CheckpointDamaged naming the first file of checkpoint `chunk` that is
        missing or differs from its checksum. A checkpoint saved before checksums existed
        (no checksums.json) passes."""
        step_dir = self.directory / str(chunk)
        listed = step_dir / _CHECKSUMS
        if not listed.exists():
            return
        try:
            sums = json.loads(listed.read_text())
        except ValueError:
            raise CheckpointDamaged(f"{listed} is not readable JSON") from None
        for name, want in sums.items():
            path = step_dir / name
            if not path.is_file():
                raise CheckpointDamaged(f"{path} is missing")
            size = path.stat().st_size
            if size != want["bytes"]:
                raise CheckpointDamaged(f"{path} has {size} bytes, {want['bytes']} when saved")
            if _digest(path) != want["sha256"]:
                raise CheckpointDamaged(f"{path} does not match its checksum (altered bytes)")

    def restore_intact(self, template: Any) -> tuple[Any, dict]:
        """`restore` of the newest checkpoint that is intact. A damaged newer one is named
        on stderr and moved to `<directory>_damaged/`, so later saves continue from the
        restored chunk. Raises CheckpointDamaged when no checkpoint is intact; a
        CheckpointMismatch (another config's state) is raised at once, not skipped."""
        damaged = []
        for chunk in sorted(self._manager.all_steps(), reverse=True):
            try:
                state, meta = self.restore(template, chunk)
            except CheckpointMismatch:
                raise
            except Exception as err:  # orbax and tensorstore raise many kinds on damage
                reason = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
                damaged.append((chunk, reason or type(err).__name__))
                continue
            if damaged:
                self._set_aside([c for c, _ in damaged])
                for bad, reason in damaged:
                    print(
                        f"marl-train: warning: checkpoint {bad} in {self.directory} is damaged "
                        f"({reason}); moved to {self.directory}_damaged/, restored checkpoint "
                        f"{chunk} instead",
                        file=sys.stderr,
                    )
            return state, meta
        if not damaged:
            raise FileNotFoundError(f"no checkpoint to restore in {self.directory}")
        reasons = "; ".join(f"checkpoint {c}: {r}" for c, r in damaged)
        raise CheckpointDamaged(f"no intact checkpoint in {self.directory}: {reasons}")

    def _set_aside(self, chunks: list[int]) -> None:
        aside = self.directory.parent / f"{self.directory.name}_damaged"
        aside.mkdir(exist_ok=True)
        for chunk in chunks:
            target = aside / str(chunk)
            if target.exists():
                target = aside / f"{chunk}.{int(time.time())}"
            (self.directory / str(chunk)).rename(target)
        with _quiet():
            self._manager.reload()

    def meta(self, chunk: int) -> dict:
        """The JSON record of checkpoint `chunk`, without reading its state."""
        with _quiet():
            restored = self._manager.restore(
                chunk, args=ocp.args.Composite(**{_META: ocp.args.JsonRestore()})
            )
        return dict(restored[_META] or {})

    def latest(self) -> int | None:
        """The newest saved chunk, or None when the directory holds no checkpoint."""
        return self._manager.latest_step()

    def restore(self, template: Any, chunk: int | None = None) -> tuple[Any, dict]:
        """Loads checkpoint `chunk` (default: the newest) into the layout of `template`.

        Returns `(state, meta)`; state leaves are jax arrays on the default device. Raises
        CheckpointMismatch naming the first leaf whose path, shape or dtype differs from the
        template, CheckpointDamaged when its files differ from their checksums, and
        FileNotFoundError when there is no such checkpoint.
        """
        steps = self._manager.all_steps()
        if chunk is None:
            if not steps:
                raise FileNotFoundError(f"no checkpoint to restore in {self.directory}")
            chunk = max(steps)
        elif chunk not in steps:
            raise FileNotFoundError(
                f"no checkpoint for chunk {chunk} in {self.directory}; "
                f"saved chunks: {sorted(steps) or 'none'}"
            )
        self.verify(chunk)
        # Restore onto the device a fresh array lands on (respects jax.default_device).
        device = next(iter(jnp.zeros(()).devices()))
        sharding = jax.sharding.SingleDeviceSharding(device)
        target = jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
            jax.eval_shape(lambda t: jax.tree.map(jnp.asarray, t), template),
        )
        with _quiet():
            saved = self._manager.item_metadata(chunk)[_STATE]
            self._check(chunk, saved, target)
            restored = self._manager.restore(
                chunk,
                args=ocp.args.Composite(
                    **{_STATE: ocp.args.StandardRestore(target), _META: ocp.args.JsonRestore()}
                ),
            )
        try:
            state = jax.tree.map(_as_template_key, target, restored[_STATE], template)
        except ValueError as err:  # the restored tree does not have the template's structure
            raise CheckpointMismatch(
                f"checkpoint {self.directory / str(chunk)} restored into a different "
                f"structure than the template: {err}"
            ) from err
        self._check(chunk, state, target, on_disk=False)
        return state, dict(restored[_META] or {})

    def close(self) -> None:
        with _quiet():
            self._manager.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, chunk: int, saved: Any, template: Any, on_disk: bool = True) -> None:
        """Raises CheckpointMismatch at the first leaf where `saved` and `template` differ.

        on_disk: compare the layouts as stored (a typed key as its raw uint32 data), else
        compare dtypes exactly.
        """
        tree = getattr(saved, "tree", saved)  # orbax wraps metadata in a TreeMetadata
        have, want = _layouts(tree, on_disk), _layouts(template, on_disk)
        problems = []
        for path, (shape, dtype) in want.items():
            if path not in have:
                problems.append(
                    f"leaf '{path}' ({_describe(shape, dtype)}) is in the template "
                    "but not in the checkpoint"
                )
            elif have[path] != (shape, dtype):
                problems.append(
                    f"leaf '{path}' is {_describe(*have[path])} in the checkpoint "
                    f"but {_describe(shape, dtype)} in the template"
                )
        problems += [
            f"leaf '{path}' ({_describe(*layout)}) is in the checkpoint but not in the template"
            for path, layout in have.items()
            if path not in want
        ]
        if problems:
            more = f" (and {len(problems) - 1} more differing leaves)" if len(problems) > 1 else ""
            raise CheckpointMismatch(
                f"checkpoint {self.directory / str(chunk)} does not match the template: "
                f"{problems[0]}{more}"
            )

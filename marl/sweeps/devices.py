"""The members axis over devices and hosts: a 1-D mesh, padding, jax.distributed.

A run's members (cells x seeds) are independent, so the program's leading axis splits
over every device with no communication: `NamedSharding(Mesh(devices, ("members",)),
P("members"))` on every state leaf, and GSPMD partitions the vmapped program. On one
device nothing is sharded and the program is exactly the unsharded one. The axis is
padded to a multiple of the device count with repeats of the first members, whose
results are dropped.

Several hosts: `distributed: auto` calls `jax.distributed.initialize()` with no
arguments, which reads the cluster's environment (Slurm, Open MPI, Kubernetes...); a
mapping `{coordinator_address, num_processes, process_id}` passes them explicitly. Every
process then runs the same program over the global mesh; process 0 alone writes the run
folder's files, and every process writes its shards of each checkpoint (a shared
filesystem is assumed, as on any cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from marl.config import ConfigError

AXIS = "members"
DISTRIBUTED_KEYS = ("coordinator_address", "num_processes", "process_id", "local_device_ids")


@dataclass(frozen=True)
class Layout:
    """How `size` members sit on the devices: `padded` slots, and the shardings of a
    per-member array and of a chunk's metrics [updates, members] (None on one device)."""

    size: int
    padded: int
    members: NamedSharding | None
    metrics: NamedSharding | None

    @property
    def index(self) -> np.ndarray:
        """Which member fills each slot: the members, then repeats of the first ones."""
        return np.arange(self.padded) % self.size

    @property
    def num_devices(self) -> int:
        return 1 if self.members is None else self.members.mesh.size

    def put(self, tree):
        """Per-slot arrays [padded, ...] (on one device, or host numpy) -> global arrays
        sharded over the members axis; unchanged on one device. Built from host copies,
        so every process of a multi-host run contributes the shards of its own devices."""
        if self.members is None:
            return tree
        return jax.tree.map(lambda x: _shard(x, self.members), tree)


def _shard(x, sharding: NamedSharding):
    """`x` as a global array with `sharding` (typed PRNG keys keep their type)."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = _shard(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def layout(size: int, devices=None) -> Layout:
    devices = jax.devices() if devices is None else list(devices)
    if len(devices) == 1:
        return Layout(size, size, None, None)
    padded = -(-size // len(devices)) * len(devices)
    mesh = Mesh(np.asarray(devices), (AXIS,))
    return Layout(
        size,
        padded,
        NamedSharding(mesh, PartitionSpec(AXIS)),
        NamedSharding(mesh, PartitionSpec(None, AXIS)),
    )


def fetch(tree):
    """Host numpy copies of (possibly sharded, possibly multi-host) arrays."""
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def check_distributed(setting) -> None:
    """Refuse a bad `distributed:` setting before anything starts."""
    if setting is None or setting == "auto":
        return
    if not isinstance(setting, Mapping):
        raise ConfigError(
            f"config: distributed={setting!r} is not allowed; expected null, auto, or a "
            f"mapping of {', '.join(DISTRIBUTED_KEYS)}"
        )
    unknown = sorted(set(setting) - set(DISTRIBUTED_KEYS))
    if unknown:
        raise ConfigError(
            f"config: unknown key distributed.{unknown[0]}; allowed keys: "
            f"{', '.join(DISTRIBUTED_KEYS)}"
        )
    for key in ("coordinator_address", "num_processes", "process_id"):
        if setting.get(key) is None:
            raise ConfigError(f"config: distributed.{key} is missing (or use distributed=auto)")
    if not 0 <= setting["process_id"] < setting["num_processes"]:
        raise ConfigError(
            f"config: distributed.process_id={setting['process_id']} is not allowed; expected "
            f"0 .. num_processes - 1 = {setting['num_processes'] - 1}"
        )


def start_distributed(setting) -> None:
    """Join the cluster once per process (a second call is a no-op)."""
    check_distributed(setting)
    if setting is None or jax.distributed.is_initialized():
        return
    # Collectives between CPU processes (the metrics' all-gather) need gloo; the option
    # is set blind because asking for the backend first would start it too early.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if setting == "auto":
        jax.distributed.initialize()
    else:
        jax.distributed.initialize(**{k: v for k, v in setting.items() if v is not None})


def is_writer() -> bool:
    """True in the process that writes the run folder's files (process 0)."""
    return jax.process_index() == 0

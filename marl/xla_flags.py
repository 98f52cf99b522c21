"""XLA flags marl needs, put into XLA_FLAGS by `import marl` before JAX creates a backend.

`--xla_cpu_enable_concurrency_optimized_scheduler=false`: with XLA's concurrency-optimised
scheduler (the CPU default in jaxlib 0.10), a PPO rollout or update with a GRU, run for
two or more seeds in one program (vmapped or `lax.map`ped), never finishes on CPU: every
thread waits and none runs (found with `marl-train algo.network.gru=64 num_seeds=2`;
tests/test_xla_flags.py reproduces it). Per-program compiler options do not help; only
the process-wide flag does. It costs throughput on CPU (measured here, one run each:
cleanup env steps 89k -> 76k env-steps/s, coin_game 2.6M -> 2.0M, ipd PPO training 109k
-> 88k): a user who runs no recurrent policy can set the flag back to true in XLA_FLAGS,
which this module leaves alone.
"""

from __future__ import annotations

import os

CPU_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler"
REQUIRED = (f"{CPU_SCHEDULER_FLAG}=false",)


def apply() -> None:
    """Add each required flag to XLA_FLAGS unless the user already set that flag. JAX reads
    XLA_FLAGS once, when it creates its backend (the first computation), so this works
    when marl is imported before any JAX computation runs."""
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in REQUIRED:
        if flag.split("=", 1)[0] not in flags:
            flags = f"{flags} {flag}".strip()
    os.environ["XLA_FLAGS"] = flags

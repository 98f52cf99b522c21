"""XLA flags marl needs, put into XLA_FLAGS by `import marl` before JAX creates a backend.

`--xla_cpu_enable_concurrency_optimized_scheduler=false`: with XLA's concurrency-optimised
scheduler (the CPU default in jaxlib 0.10), a PPO rollout or update with a GRU, run for
two or more seeds in one program (vmapped or `lax.map`ped), never finishes on CPU: every
thread waits and none runs (found with `marl-train algo.network.gru=64 num_seeds=2`;
tests/test_xla_flags.py reproduces it). Per-program compiler options do not help; only
the process-wide flag does. Its cost is within run-to-run noise here (3 interleaved
`marl-bench --envs cleanup,coin_game --num-envs 1024` runs each way: cleanup 64-86k
env-steps/s with the flag, 67-73k without; coin_game 1.6-2.4M and 1.7-2.0M). A user can
still set the flag to true in XLA_FLAGS: this module leaves a flag the user set alone.
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

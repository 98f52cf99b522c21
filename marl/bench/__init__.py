"""Benchmark: compile time and steady-state throughput (console script `marl-bench`).

Three kinds of benchmark, each a function returning table rows, in its own module:

- `marl.bench.envs`, `bench_env` (the default): random rollouts of every environment.
- `marl.bench.train`, `bench_train` (`--train`): PPO training, learning included.
- `marl.bench.peers`, `bench_peers` (`--peers`): our coin_game next to JaxMARL's.

They share the timing helpers of `marl.bench.timing` and the tables of `marl.bench.report`;
`marl.bench.cli` is the command line.
"""

from marl.bench.cli import build_parser, main
from marl.bench.envs import FULL, FULL_NUM_ENVS, QUICK, QUICK_NUM_ENVS, bench_env
from marl.bench.peers import PeersUnavailable, bench_peers, best_rate_ratio
from marl.bench.report import COLUMNS, TRAIN_COLUMNS, table_header, table_row
from marl.bench.timing import (
    Sizes,
    machine_info,
    steps_per_call,
    time_compiled,
    time_interleaved,
)
from marl.bench.train import (
    TRAIN_ENVS,
    TRAIN_FULL,
    TRAIN_QUICK,
    BadOverrides,
    bench_train,
    network_summary,
    train_num_envs,
)

__all__ = [
    "COLUMNS",
    "FULL",
    "FULL_NUM_ENVS",
    "QUICK",
    "QUICK_NUM_ENVS",
    "TRAIN_COLUMNS",
    "TRAIN_ENVS",
    "TRAIN_FULL",
    "TRAIN_QUICK",
    "BadOverrides",
    "PeersUnavailable",
    "Sizes",
    "bench_env",
    "bench_peers",
    "bench_train",
    "best_rate_ratio",
    "build_parser",
    "machine_info",
    "main",
    "network_summary",
    "steps_per_call",
    "table_header",
    "table_row",
    "time_compiled",
    "time_interleaved",
    "train_num_envs",
]

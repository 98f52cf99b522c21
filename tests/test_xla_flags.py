"""The XLA flags `import marl` sets: a two-seed GRU training finishes (it hung without)."""

import os
import subprocess
import sys
import textwrap

from marl import xla_flags

# marl-train at its smallest with a GRU and 2 seeds: one chunk of one update. Run in a
# child process (with the caller's XLA_FLAGS removed) so that a hang is a timeout.
GRU_TWO_SEEDS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, "tests")
    from training import run
    run(Path(sys.argv[1]), "env=ipd", "algo=ppo", "algo.network.gru=8", "algo.num_envs=4",
        "algo.num_steps=8", "num_seeds=2", "total_steps=32", "num_chunks=1")
    print("finished")
    """
)


def test_two_seed_gru_training_finishes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", GRU_TWO_SEEDS, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "finished" in done.stdout


def test_apply_adds_the_flags_and_keeps_the_users(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    xla_flags.apply()
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", *xla_flags.REQUIRED]
    xla_flags.apply()  # idempotent
    assert os.environ["XLA_FLAGS"].split() == ["--xla_dump_to=/tmp/x", *xla_flags.REQUIRED]
    user_choice = f"{xla_flags.CPU_SCHEDULER_FLAG}=true"
    monkeypatch.setenv("XLA_FLAGS", user_choice)
    xla_flags.apply()  # a user's explicit setting wins
    assert os.environ["XLA_FLAGS"] == user_choice

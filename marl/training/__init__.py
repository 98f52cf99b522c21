"""What a training run stands on: its folder (lock, refusals, metrics lines) and its
checkpoints. The driver itself is `marl.train`."""

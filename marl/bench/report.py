"""The printed tables: one column spec per benchmark kind, a header and a row per result."""

from __future__ import annotations

COLUMNS = (
    # header, row key, format, width
    ("env", "env", "{}", 18),
    ("agents", "num_agents", "{:d}", 6),
    ("N", "num_envs", "{:d}", 5),
    ("T", "num_steps", "{:d}", 5),
    ("compile s", "compile_s", "{:.2f}", 9),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}", 14),
    ("agent-steps/s", "agent_steps_per_s", "{:,.0f}", 15),
)
TRAIN_COLUMNS = (
    ("env", "env", "{}", 12),
    ("agents", "num_agents", "{:d}", 6),
    ("batch N x T", "batch", "{}", 11),
    ("updates", "updates_per_call", "{:d}", 7),
    ("params", "params", "{:,d}", 9),  # CNN torsos have millions
    ("compile s", "compile_s", "{:.2f}", 9),
    ("s/update", "s_per_update", "{:.3f}", 8),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}", 12),
    ("agent-steps/s", "agent_steps_per_s", "{:,.0f}", 13),
)

SWEEP_COLUMNS = (
    ("env", "env", "{}", 10),
    ("devices", "devices", "{:d}", 7),
    ("cells", "cells", "{:d}", 5),
    ("members", "members", "{:d}", 7),
    ("compile s", "compile_s", "{:.2f}", 9),
    ("s/chunk", "s_per_call", "{:.3f}", 8),
    ("env-steps/s", "env_steps_per_s", "{:,.0f}", 12),
)


def table_header(columns=COLUMNS) -> str:
    cells = [_cell(header, width, i) for i, (header, _, _, width) in enumerate(columns)]
    line = " | ".join(cells)
    return f"{line}\n{'-' * len(line)}"


def table_row(row: dict, columns=COLUMNS) -> str:
    cells = [
        _cell(fmt.format(row[key]), width, i) for i, (_, key, fmt, width) in enumerate(columns)
    ]
    return " | ".join(cells)


def _cell(text: str, width: int, index: int) -> str:
    return text.ljust(width) if index == 0 else text.rjust(width)

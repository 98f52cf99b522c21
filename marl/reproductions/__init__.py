"""The paper reproductions, an installed command: `marl-reproduce NAME [--out DIR]`.

Each trains with the one driver (marl.train) on a shipped experiment config, then writes
`summary.json` and figures into DIR: `lola_ipd` (here, cli.py), `aa_ipd`, `aa_coin_game`,
`aa_harvest` (aa.py) and `exploration_vs_cooperation` (exploration.py, its figures in
exploration_figures.py). Results and how they compare with the papers: docs/training.md
and docs/exploration.md.
"""

from marl.reproductions.cli import REPRODUCTIONS, main

__all__ = ["REPRODUCTIONS", "main"]

"""Reproduce a paper's headline result: `marl-reproduce NAME [--out DIR]`.

Each reproduction runs `marl.train.train` (the one driver) with a shipped experiment
config, then writes `summary.json` and figures into DIR. The options and DIR (writable,
or creatable) are checked before any folder is created or anything trains. Available:
lola_ipd, aa_ipd, aa_coin_game, aa_harvest, exploration_vs_cooperation, evaluation_demo
(options: `--help`).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from marl.algos.lola import STATES  # noqa: E402
from marl.paths import check_writable  # noqa: E402
from marl.reproductions.aa import aa_coin_game, aa_harvest, aa_ipd  # noqa: E402
from marl.reproductions.evaluation_demo import evaluation_demo  # noqa: E402
from marl.reproductions.exploration import (  # noqa: E402
    exploration_spec,
    exploration_vs_cooperation,
)
from marl.reproductions.runs import train_experiment  # noqa: E402


def lola_ipd(out: Path, quick: bool) -> dict:
    """LOLA vs LOLA, naive vs naive, LOLA vs naive on the IPD with exact values."""
    pairings = {
        "lola_vs_lola": "lola,lola",
        "naive_vs_naive": "naive,naive",
        "lola_vs_naive": "lola,naive",
    }
    results, curves = {}, {}
    for name, learners in pairings.items():
        tick = time.perf_counter()
        rows, _ = train_experiment(out, name, "+experiment=lola_ipd", f"algo.learners=[{learners}]")
        last = rows[-1]
        results[name] = {
            "reward_per_step": {
                a: [last[f"{a}/reward_per_step"], last[f"{a}/reward_per_step_std"]]
                for a in ("agent0", "agent1")
            },
            "reward_per_step_mean": last["reward_mean"],
            "p_cooperate": {
                a: {s: last[f"{a}/p_cooperate_{s}"] for s in STATES} for a in ("agent0", "agent1")
            },
            "wall_s": time.perf_counter() - tick,
        }
        curves[name] = rows

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, rows in curves.items():
        steps = np.array([r["step"] for r in rows])
        for agent, style in (("agent0", "-"), ("agent1", "--")):
            mean = np.array([r[f"{agent}/reward_per_step"] for r in rows])
            std = np.array([r[f"{agent}/reward_per_step_std"] for r in rows])
            line = ax.plot(steps, mean, style, label=f"{name} ({agent})")[0]
            ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    ax.axhline(-1.0, color="grey", lw=0.8, ls=":")
    ax.axhline(-2.0, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="update",
        ylabel="average reward per step",
        title="IPD, exact values: LOLA vs naive learners (mean ± std over seeds)",
    )
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "reward_per_step.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5), sharey=True)
    width = 0.38
    for ax, (name, result) in zip(axes, results.items(), strict=True):
        x = np.arange(len(STATES))
        for k, agent in enumerate(("agent0", "agent1")):
            ax.bar(
                x + (k - 0.5) * width,
                [result["p_cooperate"][agent][s] for s in STATES],
                width,
                label=agent,
            )
        ax.set_xticks(x, STATES)
        ax.set_title(name)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("P(C | state), own action first")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / "cooperation_probabilities.png", dpi=120)
    plt.close(fig)
    return results


REPRODUCTIONS = {"lola_ipd": lola_ipd}
REPRODUCTIONS.update(aa_ipd=aa_ipd, aa_harvest=aa_harvest, aa_coin_game=aa_coin_game)
REPRODUCTIONS["exploration_vs_cooperation"] = exploration_vs_cooperation
REPRODUCTIONS["evaluation_demo"] = evaluation_demo
# Checks of a reproduction's options, (quick, **options) -> raises ConfigError: run before
# any folder is created, so a bad choice leaves nothing behind.
CHECKS = {"exploration_vs_cooperation": exploration_spec}


EXAMPLES = """examples:
  marl-reproduce lola_ipd --out reproductions/lola_ipd
  marl-reproduce aa_ipd --quick
  marl-reproduce exploration_vs_cooperation --quick --sharing shared,groups:10
  marl-reproduce exploration_vs_cooperation --env harvest --seeds 2
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="marl-reproduce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    parser.add_argument("name", choices=sorted(REPRODUCTIONS))
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--quick", action="store_true", help="smaller settings where offered")
    parser.add_argument("--env", default=None, help="environment, where a reproduction offers one")
    parser.add_argument("--seeds", type=int, default=None, help="seeds, where offered")
    parser.add_argument(
        "--sharing", default=None, help="comma-separated sharing modes, where offered"
    )
    args = parser.parse_args(argv)
    options = {k: getattr(args, k) for k in ("env", "seeds", "sharing")}
    options = {k: v for k, v in options.items() if v is not None}
    offered = inspect.signature(REPRODUCTIONS[args.name]).parameters
    for key in options:
        if key not in offered:
            parser.error(f"{args.name} offers no --{key} choice")
    try:
        if args.name in CHECKS:
            CHECKS[args.name](args.quick, **options)
        out = check_writable(args.out or Path("reproductions") / args.name, folder=True)
    except ValueError as err:  # ConfigError too
        parser.error(str(err))
    out.mkdir(parents=True, exist_ok=True)
    tick = time.perf_counter()
    results = REPRODUCTIONS[args.name](out, args.quick, **options)
    summary = {"name": args.name, "wall_s": time.perf_counter() - tick, "results": results}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`marl-bench`: the command line of the benchmarks (env, `--train`, `--peers`, `--sweep`).

Arguments are checked, env names, `--set` overrides and the `--json` path included,
before anything compiles; rows are printed as they are measured and, with `--json`,
written with the machine's description (missing folders of the path are created).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

import marl
from marl.bench.envs import FULL, FULL_NUM_ENVS, QUICK, QUICK_NUM_ENVS, bench_env
from marl.bench.peers import (
    PEER_ENV,
    PEERS_INSTALL,
    PeersUnavailable,
    bench_peers,
    best_rate_ratio,
    import_jaxmarl,
)
from marl.bench.report import SWEEP_COLUMNS, TRAIN_COLUMNS, table_header, table_row
from marl.bench.sweep import SWEEP_CELLS, SWEEP_ENV, SWEEP_QUICK_CELLS, SWEEP_SEEDS, bench_sweep
from marl.bench.timing import machine_info, package_version
from marl.bench.train import (
    MANY_AGENTS,
    TRAIN_ENVS,
    TRAIN_FULL,
    TRAIN_NUM_ENVS,
    TRAIN_QUICK,
    TRAIN_QUICK_NUM_ENVS,
    BadOverrides,
    bench_train,
    check_overrides,
    train_env_names,
)
from marl.paths import check_writable

TRAIN_CNN_EXAMPLE = "marl-bench --train --envs gathering --set algo.network.torso=cnn"


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    values = _int_list(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one positive integer, got {text!r}")
    return values[0]


def _override(text: str) -> str:
    """A Hydra override KEY=VALUE (or a deletion, ~KEY); its key and value are checked
    later, against the composed config."""
    if "=" not in text and not text.startswith("~"):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marl-bench",
        description=textwrap.fill(
            "Compile time and steady-state env-steps/s of jit(scan(vmap(env.step))) "
            "with random actions, for every registered environment; with --train, of PPO "
            "training (rollout + GAE + minibatch updates) built from the marl-train configs; "
            "with --peers, of coin_game next to JaxMARL's coin_game."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  marl-bench --quick\n"
        "  marl-bench --envs harvest,cleanup --num-envs 64,256 --json bench.json\n"
        "  marl-bench --train --envs coin_game --set algo.network.torso=cnn\n"
        "  marl-bench --sweep --cells 1,16 --devices 1,2\n",
    )
    parser.add_argument(
        "--train",
        action="store_true",
        help=f"benchmark PPO training instead (default envs {','.join(TRAIN_ENVS)}; N per "
        f"env: {TRAIN_NUM_ENVS['few']}, or {TRAIN_NUM_ENVS['many']} for envs with "
        f">= {MANY_AGENTS} agents; --quick {TRAIN_QUICK_NUM_ENVS['few']} / "
        f"{TRAIN_QUICK_NUM_ENVS['many']}); e.g. the CNN torso: {TRAIN_CNN_EXAMPLE}",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help=f"compare {PEER_ENV} with JaxMARL's {PEER_ENV} in the same run (same N and T, "
        f"random actions, auto-reset); needs {PEERS_INSTALL}",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help=f"benchmark in-program sweeps: PPO on {SWEEP_ENV}, 1..64 cells x {SWEEP_SEEDS} "
        "seeds in one compiled program each (default cells "
        f"{','.join(map(str, SWEEP_CELLS))}); --devices 1,2 times each on 1 and 2 host devices",
    )
    parser.add_argument(
        "--cells", type=_int_list, help="with --sweep: comma-separated numbers of cells"
    )
    parser.add_argument(
        "--devices",
        type=_int_list,
        help="with --sweep: comma-separated device counts, each in its own process "
        "(host devices on a CPU; default 1)",
    )
    parser.add_argument(
        "--envs",
        help="comma-separated env names (default: all registered: see marl.list_envs; "
        "with --train: " + ",".join(TRAIN_ENVS) + ")",
    )
    parser.add_argument(
        "--num-envs",
        type=_int_list,
        help=f"comma-separated numbers of parallel envs N (default {FULL_NUM_ENVS}, "
        f"--quick {QUICK_NUM_ENVS}; with --train: algo.num_envs, default per env)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer N, steps and repeats (a minute or two)"
    )
    parser.add_argument(
        "--steps", type=_positive_int, help="scan length T for every N (default: sized per N)"
    )
    parser.add_argument(
        "--updates",
        type=_positive_int,
        help="with --train: PPO updates per timed call (default: sized per N)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        type=_override,
        metavar="KEY=VALUE",
        help="with --train: a marl-train config override, applied after the benchmark's own "
        "(repeatable), e.g. --set algo.network.torso=cnn --set algo.num_steps=32",
    )
    parser.add_argument("--repeats", type=_positive_int, help="timed calls per row")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="PATH", help="also write rows and machine info here")
    return parser


def _check_options(args, parser) -> None:
    """Options that do not go together, and the JaxMARL import of --peers."""
    if args.train and args.steps is not None:
        parser.error("--steps sets the env benchmark's scan length; with --train use --updates")
    if args.updates is not None and not (args.train or args.sweep):
        parser.error("--updates applies to --train and --sweep only")
    if args.overrides and not (args.train or args.sweep):
        parser.error("--set overrides the marl-train config; it applies to --train and --sweep")
    if args.peers and (args.train or args.envs):
        parser.error(f"--peers compares {PEER_ENV} only; it takes no --train or --envs")
    if args.sweep and (args.train or args.peers or args.num_envs or args.steps):
        parser.error("--sweep takes --envs (one), --cells, --devices, --updates, --repeats, --set")
    if (args.cells or args.devices) and not args.sweep:
        parser.error("--cells and --devices apply to --sweep only")
    if args.json:
        try:
            check_writable(args.json)
        except ValueError as err:
            parser.error(f"--json: {err}")
    if args.peers:
        try:
            import_jaxmarl()  # before anything compiles
        except PeersUnavailable as err:
            parser.error(str(err))


def _env_names(args, parser) -> list[str]:
    """The envs asked for, checked before anything compiles."""
    names = [n.strip() for n in args.envs.split(",") if n.strip()] if args.envs else None
    if names:
        names = list(dict.fromkeys(names))
    elif args.train:
        names = list(TRAIN_ENVS)
    else:
        names = marl.list_envs()
    if args.train:
        valid = train_env_names()
        unknown = [n for n in names if n not in valid]
        if unknown:
            parser.error(
                f"--train: no env config for {', '.join(map(repr, unknown))}; envs with a "
                f"config in marl/configs/env: {', '.join(valid)}"
            )
        return names
    for name in names:
        try:
            marl.make(name)
        except ValueError as err:
            parser.error(str(err))
    return names


def _sizes(args):
    if args.train:
        sizes = TRAIN_QUICK if args.quick else TRAIN_FULL
    else:
        sizes = QUICK if args.quick else FULL
    if args.repeats is not None:
        sizes = dataclasses.replace(sizes, repeats=args.repeats)
    return sizes


def _train_kwargs(args) -> dict:
    """The keyword arguments of `bench_train` (and `check_overrides`) from the options."""
    return {
        "updates": args.updates,
        "quick": args.quick,
        "seed": args.seed,
        "extra": tuple(args.overrides or ()),
    }


def _check_train_overrides(args, parser, names, sizes) -> None:
    """Every env's configs with the `--set` overrides compose and set up (or exit)."""
    for name in names:
        try:
            check_overrides(name, args.num_envs, sizes, **_train_kwargs(args))
        except BadOverrides as err:
            parser.error(str(err))


def run_peers(args, sizes) -> tuple[list[dict], list[dict]]:
    num_envs = args.num_envs or list(QUICK_NUM_ENVS if args.quick else FULL_NUM_ENVS)
    print(f"{PEER_ENV}: marl vs JaxMARL, random actions, auto-reset included", flush=True)
    print(table_header(), flush=True)
    rows, ratios = [], []
    for n in num_envs:  # one N at a time, so that rows show as they are measured
        n_rows, n_ratios = bench_peers([n], sizes, steps=args.steps, seed=args.seed)
        rows += n_rows
        ratios += n_ratios
        for row in n_rows:
            print(table_row(row), flush=True)
    for ratio in ratios:
        print(
            f"N={ratio['num_envs']}: ours / JaxMARL env-steps/s {ratio['speedup']:.2f}x, "
            f"compile time {ratio['compile_ratio']:.2f}x",
            flush=True,
        )
    print(f"best N each: ours / JaxMARL {best_rate_ratio(rows):.2f}x", flush=True)
    return rows, ratios


def run_train(args, sizes, names) -> list[dict]:
    print("PPO training (rollout + GAE + minibatch updates), 1 seed", flush=True)
    print(table_header(TRAIN_COLUMNS), flush=True)
    rows = []
    for name in names:
        for row in bench_train(name, args.num_envs, sizes, **_train_kwargs(args)):
            rows.append(row)
            print(table_row(row, TRAIN_COLUMNS), flush=True)
    for network in dict.fromkeys(r["network"] for r in rows):
        print(f"network: {network}", flush=True)
    return rows


def run_sweep(args, names) -> list[dict]:
    if len(names) != 1:
        raise SystemExit("marl-bench: error: --sweep benchmarks one env (--envs NAME)")
    cells = args.cells or (SWEEP_QUICK_CELLS if args.quick else SWEEP_CELLS)
    print(f"in-program sweeps: PPO on {names[0]}, cells x {SWEEP_SEEDS} seeds", flush=True)
    rows = bench_sweep(
        env=names[0],
        cells=cells,
        updates=args.updates or 2,
        repeats=args.repeats or (2 if args.quick else 3),
        devices=args.devices or (1,),
        extra=tuple(args.overrides or ()),
    )
    print(table_header(SWEEP_COLUMNS), flush=True)
    for row in rows:
        print(table_row(row, SWEEP_COLUMNS), flush=True)
    for cells_count in dict.fromkeys(r["cells"] for r in rows):
        by_devices = {r["devices"]: r for r in rows if r["cells"] == cells_count}
        if 1 in by_devices and len(by_devices) > 1:
            one = by_devices[1]["env_steps_per_s"]
            ratios = ", ".join(
                f"{d} devices {r['env_steps_per_s'] / one:.2f}x"
                for d, r in by_devices.items()
                if d > 1
            )
            print(f"{cells_count} cells: {ratios} the 1-device rate", flush=True)
    return rows


def run_envs(args, sizes, names) -> list[dict]:
    num_envs = args.num_envs or list(QUICK_NUM_ENVS if args.quick else FULL_NUM_ENVS)
    print(table_header(), flush=True)
    rows = []
    for name in names:
        for row in bench_env(name, num_envs, sizes, steps=args.steps, seed=args.seed):
            rows.append(row)
            print(table_row(row), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_options(args, parser)
    sizes = _sizes(args)
    names = [PEER_ENV] if args.peers else _env_names(args, parser)
    if args.sweep and not args.envs:
        names = [SWEEP_ENV]
    if args.train and args.overrides:
        _check_train_overrides(args, parser, names, sizes)

    info = machine_info()
    print(
        f"marl-bench: jax {info['jax']}, backend {info['backend']} ({info['device_kind']}, "
        f"{info['device_count']} device(s)), {info['cpu_count']} CPUs",
        flush=True,
    )
    start = time.perf_counter()
    rows, train_rows, peer_rows, peer_ratios, sweep_rows = [], [], [], [], []
    if args.sweep:
        sweep_rows = run_sweep(args, names)
    elif args.peers:
        peer_rows, peer_ratios = run_peers(args, sizes)
    elif args.train:
        train_rows = run_train(args, sizes, names)
    else:
        rows = run_envs(args, sizes, names)
    total_s = time.perf_counter() - start
    print(f"total {total_s:.1f} s", flush=True)

    if args.json:
        result = {
            "command": ["marl-bench", *(argv if argv is not None else sys.argv[1:])],
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": info,
            "sizes": dataclasses.asdict(sizes),
            "total_s": total_s,
            "rows": rows,  # env benchmark rows (kind "env"); empty with --train
            "train": train_rows,  # training benchmark rows (kind "train"); empty without
            "sweep": sweep_rows,  # in-program sweep rows (kind "sweep"); empty without
        }
        if args.peers:  # rows of kind "peers" (impl "marl" or "jaxmarl") and their ratios
            result["peers"] = _peers_result(peer_rows, peer_ratios)
        _write_json(args.json, result)
    return 0


def _peers_result(rows: list[dict], ratios: list[dict]) -> dict:
    return {
        "rows": rows,
        "ratios": ratios,
        "best_n_speedup": best_rate_ratio(rows),
        "jaxmarl": package_version("jaxmarl"),
    }


def _write_json(path: str, result: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")

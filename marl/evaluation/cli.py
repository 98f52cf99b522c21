"""`marl-eval`: judge trained agents (docs/evaluation.md).

    marl-eval RUN_DIR [--against ...] [--crossplay RUN_DIR2]    against bots and other seeds
    marl-eval scenario NAME --focal RUN_DIR                     focal among a background
    marl-eval league MEMBER... --out DIR [--adaptive]           everyone against everyone
    marl-eval alpharank LEAGUE_DIR                              alpha-Rank of a league
    marl-eval shapley MEMBER --baseline scripted:random         each agent's contribution
    marl-eval schelling --env NAME --cooperator M --defector M  is the game a dilemma?

A MEMBER is a run folder (all its seeds), RUN_DIR:CHUNK (an older checkpoint), or
`scripted:NAME` (a scripted policy). Every command checks its inputs (the runs' games, the
slot counts, the output folder) before anything compiles, and writes JSON and a figure.
`marl-eval scenario=NAME focal=RUN_DIR` is accepted too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jax

from marl.config import ConfigError
from marl.paths import check_writable

COMMANDS = ("scenario", "league", "alpharank", "shapley", "schelling")


def _game_of(specs: list[str], env_name: str | None, preset: str | None, what: str):
    """The game (`populations.Game`): the first run's, or --env when every member is
    scripted; and the members, each checked against it."""
    from marl.evaluation.populations import SCRIPTED_PREFIX, Game, env_config, split_chunk

    runs = [s for s in specs if not s.startswith(SCRIPTED_PREFIX)]
    if runs:
        stored = _stored_env(split_chunk(runs[0])[0])
        config = {k: stored.get(k) for k in ("name", "preset", "args")}
    elif env_name is not None:
        config = env_config({"name": env_name, **({"preset": preset} if preset else {})})
    else:
        raise ConfigError("only scripted members: give the game with --env")
    game = Game.of(config)
    return game, [game.member(spec, f"{what} {spec}") for spec in specs]


def _stored_env(run_dir: str) -> dict:
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise ConfigError(f"{run_dir} has no config.yaml; is it a marl-train run folder?")
    return yaml.safe_load(path.read_text())["env"]


# ---- commands --------------------------------------------------------------------------------
def scenario_command(args) -> int:
    from marl.evaluation import scenarios

    scenario = scenarios.load(args.name)
    if args.out is None and args.focal.startswith("scripted:"):
        raise ConfigError("a scripted focal policy has no run folder: give --out")
    from marl.evaluation.populations import split_chunk

    default = Path(split_chunk(args.focal)[0]) / "eval" / f"scenario_{scenario.name}"
    out = args.out or default
    out = check_writable(out, folder=True)
    result = scenarios.run(scenario, args.focal, args.seed, args.episodes)
    scenarios.save(result, out)
    focal, back = result["focal_per_capita_return"], result["background_per_capita_return"]
    print(f"scenario {scenario.name}: {result['episodes']} episodes -> {out}")
    print(
        f"  focal per-capita return      {focal['mean']:9.3f}  "
        f"95% CI [{focal['ci_low']:.3f}, {focal['ci_high']:.3f}]"
    )
    print(
        f"  background per-capita return {back['mean']:9.3f}  "
        f"95% CI [{back['ci_low']:.3f}, {back['ci_high']:.3f}]"
    )
    for name, stats in result["social_outcomes"].items():
        print(f"  {name:<28} {stats['mean']:9.3f}")
    return 0


def league_command(args) -> int:
    from marl.evaluation.league import League, play_league

    out = check_writable(args.out, folder=True)
    specs = list(args.members) + [f"scripted:{n}" for n in _split(args.scripted)]
    game, populations = _game_of(specs, args.env, args.preset, "league member")
    league = League(game.env, game.params, populations, args.focal_copies, args.steps, args.seed)
    if len(league.members) < 2:
        raise ConfigError("a league needs at least two members")
    table = play_league(league, game.config, args.episodes)
    table.save(out)
    print(f"league of {len(table.names)} members, {args.episodes} episodes per entry -> {out}")
    if args.adaptive is not None:
        from marl.evaluation import ranking

        found = ranking.adaptive(league, table, out, args.adaptive, args.max_episodes)
        print(
            f"ResponseGraphUCB: {len(found['unresolved_edges'])} unresolved edges after "
            f"{found['total_episodes']} more episodes -> {out / 'adaptive.json'}"
        )
    return 0


def alpharank_command(args) -> int:
    from marl.evaluation import ranking
    from marl.evaluation.league import LeagueTable

    if args.alpha is not None and not args.alpha > 0:
        raise ConfigError(f"--alpha must be > 0; got {args.alpha}")
    table = LeagueTable.load(args.league)
    out = check_writable(args.out or Path(args.league), folder=True)
    report = ranking.league_report(
        table,
        out,
        args.alpha,
        args.population_size,
        args.bootstrap,
        local_selection=args.selection == "local",
    )
    (out / "alpharank.json").write_text(json.dumps(report, indent=2))
    print(
        f"alpha-Rank (alpha = {report['alpha']:g}, {report['alpha_from']}) -> "
        f"{out / 'alpharank.json'}"
    )
    for row in report["ranking"]:
        print(
            f"  {row['rank']:>2}. {row['member']:<24} pi = {row['pi']:.3f}  "
            f"rank interval {row['rank_interval']}"
        )
    return 0


def shapley_command(args) -> int:
    from marl.evaluation import shapley

    out = check_writable(args.out, folder=True)
    specs = [args.member, args.baseline]
    game, (players, baseline) = _game_of(specs, args.env, args.preset, "shapley")
    coalitions = shapley.CoalitionGame(
        game.env,
        game.params,
        players,
        baseline,
        args.seed_index,
        args.episodes,
        args.steps,
        jax.random.PRNGKey(args.seed),
    )
    result = shapley.shapley(coalitions, args.method, args.orders).to_json()
    result.update(env=game.config, member=args.member, baseline=args.baseline)
    out.mkdir(parents=True, exist_ok=True)
    (out / "shapley.json").write_text(json.dumps(result, indent=2))
    title = f"{game.config['name']}: {args.member}, baseline {args.baseline}"
    shapley.plot({Path(args.member).name: result}, out / "shapley.png", title)
    print(
        f"Shapley values ({result['method']}) of {args.member} against baseline "
        f"{args.baseline} -> {out}"
    )
    for i, (v, se) in enumerate(zip(result["shapley"], result["se"], strict=True)):
        print(f"  agent {i}: {v:9.3f} +- {se:.3f}")
    return 0


def schelling_command(args) -> int:
    from marl.evaluation import schelling

    out = check_writable(args.out, folder=True)
    specs = [args.cooperator, args.defector]
    game, members = _game_of(specs, args.env, args.preset, "schelling")
    env, params = game.env, game.params
    c, d = (p.only(0) for p in members)
    diagram = schelling.schelling(env, params, c, d, args.episodes, args.steps, args.seed)
    result = schelling.save(diagram, out)
    verdict = "has" if result["shape"]["social_dilemma"] else "does not have"
    print(f"{env.name}: the diagram {verdict} the social-dilemma shape -> {out}")
    return 0


# ---- parsing ---------------------------------------------------------------------------------
def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _game_flags(parser) -> None:
    parser.add_argument("--env", default=None, help="configs/env name (scripted-only members)")
    parser.add_argument("--preset", default=None, help="env preset (with --env)")
    parser.add_argument("--steps", type=int, default=None, help="steps per episode")
    parser.add_argument("--seed", type=int, default=0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marl-eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  marl-eval runs/mine --against always_defect,tit_for_tat\n"
        "  marl-eval scenario harvest_among_greedy --focal runs/harvest_ppo\n"
        "  marl-eval league runs/ppo runs/lola --scripted always_defect,tit_for_tat --out lg\n"
        "  marl-eval alpharank lg\n"
        "  marl-eval shapley scripted:always_cooperate --env spgg --baseline scripted:random "
        "--out sh\n"
        "  marl-eval schelling --env harvest --cooperator scripted:sustainable_harvester "
        "--defector scripted:greedy_eater --out sd\n",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("scenario", help="focal players among a background population")
    p.add_argument("name", help="a configs/scenario name or a scenario YAML file")
    p.add_argument("--focal", required=True, help="run folder, RUN:CHUNK or scripted:NAME")
    p.add_argument("--episodes", type=int, default=None, help="default: the scenario's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="default: FOCAL/eval/scenario_NAME")

    p = sub.add_parser("league", help="every member against every member")
    p.add_argument("members", nargs="*", help="run folders, RUN:CHUNK or scripted:NAME")
    p.add_argument("--scripted", default=None, help="comma-separated scripted policies")
    p.add_argument("--episodes", type=int, default=32, help="episodes per entry")
    p.add_argument("--focal-copies", type=int, default=1, help="slots of the row member")
    p.add_argument(
        "--adaptive",
        type=float,
        default=None,
        metavar="DELTA",
        help="then ResponseGraphUCB with failure probability DELTA",
    )
    p.add_argument("--max-episodes", type=int, default=20000, help="episode budget of --adaptive")
    p.add_argument("--out", type=Path, required=True)
    _game_flags(p)

    p = sub.add_parser("alpharank", help="alpha-Rank of a league folder")
    p.add_argument("league", type=Path, help="a folder written by marl-eval league")
    p.add_argument("--alpha", type=float, default=None, help="default: the large-alpha limit")
    p.add_argument("--population-size", type=int, default=50, help="m of the paper")
    p.add_argument("--bootstrap", type=int, default=200, help="resamples for rank intervals")
    p.add_argument(
        "--selection",
        default="local",
        choices=("local", "population"),
        help="fitness against the current opponent, or the population's state",
    )
    p.add_argument("--out", type=Path, default=None, help="default: the league folder")

    p = sub.add_parser("shapley", help="Shapley values of each slot's contribution")
    p.add_argument("member", help="run folder, RUN:CHUNK or scripted:NAME")
    p.add_argument("--baseline", required=True, help="who plays outside the coalition")
    p.add_argument("--seed-index", type=int, default=0, help="which seed of the run")
    p.add_argument("--episodes", type=int, default=16, help="episodes per coalition")
    p.add_argument("--method", default="auto", choices=("auto", "exact", "monte_carlo"))
    p.add_argument("--orders", type=int, default=64, help="orders for monte_carlo")
    p.add_argument("--out", type=Path, required=True)
    _game_flags(p)

    p = sub.add_parser("schelling", help="Schelling diagram of a C and a D policy")
    p.add_argument("--cooperator", required=True, help="the C policy (a member)")
    p.add_argument("--defector", required=True, help="the D policy (a member)")
    p.add_argument("--episodes", type=int, default=16, help="episodes per count of C")
    p.add_argument("--out", type=Path, required=True)
    _game_flags(p)
    return parser


def _translate(argv: list[str]) -> list[str]:
    """`scenario=NAME focal=RUN` -> `scenario NAME --focal RUN`."""
    if argv and argv[0].startswith("scenario="):
        rest = [f"--{a.split('=', 1)[0]}={a.split('=', 1)[1]}" if "=" in a else a for a in argv[1:]]
        return ["scenario", argv[0].split("=", 1)[1], *rest]
    return argv


def main(argv: list[str] | None = None) -> int:
    from marl.evaluation import crossplay

    argv = _translate(list(sys.argv[1:] if argv is None else argv))
    if argv and argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        return crossplay.main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command = {
        "scenario": scenario_command,
        "league": league_command,
        "alpharank": alpharank_command,
        "shapley": shapley_command,
        "schelling": schelling_command,
    }[args.command]
    try:
        return command(args)
    except (FileNotFoundError, ValueError) as err:  # ConfigError, CheckpointMismatch too
        print(f"marl-eval {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

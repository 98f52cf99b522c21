"""`marl-reproduce evaluation_demo`: the evaluation suite end to end, on a CPU in minutes.

1. Leagues on the IPD and the Coin Game: short PPO, Advantage Alignment and LOLA /
   LOLA-DiCE trainings (2 seeds each) and the games' scripted bots, every member against
   every member; alpha-Rank of each league (the sweep over alpha, the chosen large-alpha
   limit, bootstrap rank intervals, the response graph), and ResponseGraphUCB on a league
   of the IPD's bots (which entries it plays more).
2. Shapley values of a PPO run's agents on the SPGG (baseline: free-riders), next to the
   known answer of an additive case (every agent contributing, baseline free-riding).
3. Schelling diagrams of Harvest (sustainable harvester vs greedy eater), Cleanup
   (cleaner-eater vs greedy eater) and the SPGG (contribute vs free-ride).
4. Two scenarios: a trained IPD run among tit-for-tat players, and the sustainable
   harvester among greedy eaters.

Everything lands in OUT (runs/, league_*/, shapley/, schelling_*/, scenario_*/) with a
summary. `--quick` shortens trainings and episodes (the tests run it).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jax

from marl.evaluation import ranking, scenarios, schelling, shapley
from marl.evaluation.league import League, play_league
from marl.evaluation.populations import Game, env_config, scripted
from marl.reproductions.runs import train_experiment

IPD_RUNS = {
    "ppo": ["env=ipd", "algo=ppo", "total_steps=102400"],
    "aa": ["+experiment=aa_ipd", "total_steps=102400"],
    "lola": ["+experiment=lola_ipd"],
}
COIN_RUNS = {
    "ppo": ["+experiment=aa_coin_game_ppo", "total_steps=240000"],
    "paa": ["+experiment=aa_coin_game", "total_steps=240000"],
    "lola_dice": ["+experiment=lola_dice_coin_game", "total_steps=128000"],
}
SPGG_RUN = ["env=spgg", "algo=ppo", "total_steps=51200"]
# --quick: a few updates each (each config's steps per update divide these).
QUICK_STEPS = {
    "ipd_ppo": 8192,
    "ipd_aa": 8192,
    "coin_ppo": 8000,
    "coin_paa": 8000,
    "coin_lola_dice": 12800,
    "spgg_ppo": 4096,
}
# scenario -> focal: "run:NAME" (a run trained above) or a member spec
SCENARIOS = {
    "ipd_among_reciprocators": "run:ipd_aa",
    "harvest_among_greedy": "scripted:sustainable_harvester",
}
SCHELLING = {
    "harvest": ("sustainable_harvester", "greedy_eater"),
    "cleanup": ("cleaner_eater", "greedy_eater"),
    "spgg": ("always_cooperate", "always_defect"),
}


def _train(out: Path, name: str, overrides: list[str], quick: bool) -> Path:
    common = ["num_seeds=2", "num_chunks=2"]
    if quick:
        steps = QUICK_STEPS.get(name)
        common += [f"total_steps={steps}"] if steps else ["total_steps=20"]
    _, run_dir = train_experiment(out / "runs", name, *overrides, *common)
    return run_dir


def _league(
    out: Path,
    game: str,
    runs: dict,
    bots: list[str],
    episodes: int,
    name: str = "",
    adaptive_budget: int = 0,
):
    played = Game.of(env_config(game))
    pops = [played.member(str(r), name) for name, r in runs.items()]
    pops += [scripted(b, played.env) for b in bots]
    league = League(played.env, played.params, pops, seed=0)
    table = play_league(league, played.config, episodes)
    folder = out / f"league_{name or game}"
    table.save(folder)
    result = {"members": table.names, "payoff_mean": table.mean.round(3).tolist()}
    result["alpharank"] = ranking.league_report(table, folder, n_boot=100)
    if adaptive_budget:
        result["adaptive"] = ranking.adaptive(
            league, table, folder, delta=0.1, max_episodes=adaptive_budget, episodes_per_round=32
        )
    return result


def evaluation_demo(out: Path, quick: bool) -> dict:
    """Train the small populations, then run every evaluation on them (module docstring)."""
    tick = time.perf_counter()
    episodes = 4 if quick else 32
    results = {"quick": quick}

    ipd_runs = {f"ipd_{k}": _train(out, f"ipd_{k}", v, quick) for k, v in IPD_RUNS.items()}
    coin_runs = {f"coin_{k}": _train(out, f"coin_{k}", v, quick) for k, v in COIN_RUNS.items()}
    spgg_run = _train(out, "spgg_ppo", SPGG_RUN, quick)
    results["train_s"] = round(time.perf_counter() - tick, 1)

    bots = ["always_cooperate", "always_defect", "tit_for_tat", "random"]
    results["league_ipd"] = _league(out, "ipd", ipd_runs, bots, episodes)
    # ResponseGraphUCB on the bots alone: trained seeds that play alike (both PPO seeds
    # defect) differ by hundredths per step, which Hoeffding intervals over the payoff
    # range [-3, 0] separate only after tens of thousands of episodes per entry.
    results["league_ipd_bots"] = _league(
        out, "ipd", {}, bots, episodes, name="ipd_bots", adaptive_budget=2000 if quick else 60000
    )
    results["league_coin_game"] = _league(
        out,
        "coin_game",
        coin_runs,
        ["always_cooperate", "always_defect", "random"],
        episodes,
    )

    results["shapley_spgg"] = _shapley(out, spgg_run, episodes)

    results["schelling"] = {}
    for game, (c, d) in SCHELLING.items():
        played = Game.of(env_config(game))
        env, params = played.env, played.params
        steps = 200 if quick else None
        diagram = schelling.schelling(
            env, params, scripted(c, env), scripted(d, env), episodes=2 if quick else 8, steps=steps
        )
        result = schelling.save(diagram, out / f"schelling_{game}")
        results["schelling"][game] = {
            "cooperator": c,
            "defector": d,
            "cooperator_return": result["cooperator_return"]["mean"],
            "defector_return": result["defector_return"]["mean"],
            "social_dilemma": result["shape"]["social_dilemma"],
        }

    results["scenarios"] = {}
    trained = {**ipd_runs, **coin_runs}
    for name, focal in SCENARIOS.items():
        if focal.startswith("run:"):
            focal = str(trained[focal[len("run:") :]])
        steps = 100 if quick else None
        result = scenarios.run(scenarios.load(name), focal, episodes=episodes, steps=steps)
        scenarios.save(result, out / f"scenario_{name}")
        results["scenarios"][name] = {
            "focal": focal,
            "focal_per_capita_return": result["focal_per_capita_return"]["mean"],
            "background_per_capita_return": result["background_per_capita_return"]["mean"],
        }
    results["wall_s"] = round(time.perf_counter() - tick, 1)
    return results


def _shapley(out: Path, run_dir: Path, episodes: int) -> dict:
    """Shapley values of the trained SPGG agents, and of all-contributors (known answer)."""
    game = Game.of(env_config("spgg"))
    env, params = game.env, game.params
    trained = game.member(str(run_dir), "shapley")
    free_rider = scripted("always_defect", env)
    found = {}
    for label, players in (
        ("ppo", trained),
        ("always_cooperate", scripted("always_cooperate", env)),
    ):
        game = shapley.CoalitionGame(
            env, params, players, free_rider, episodes=max(episodes, 2), key=jax.random.PRNGKey(0)
        )
        result = shapley.shapley(game).to_json()
        found[label] = result
    folder = out / "shapley"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shapley.json").write_text(json.dumps(found, indent=2))
    shapley.plot(found, folder / "shapley.png", "spgg: Shapley values, baseline free-riders")
    return found

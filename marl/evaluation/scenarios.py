"""Scenarios: focal players among a background population (Melting Pot's protocol).

A scenario (Leibo et al. 2021, "Scalable evaluation of multi-agent reinforcement learning
with Melting Pot") is a game, a number of focal slots and a background population. In each
episode, `focal_slots` slots (drawn among those the focal policy was trained to play) are
played by members of the focal population (a run's seeds, each slot drawing its own), and
every other slot by a background member: an entry of `background` drawn by weight, then one
of its members (a run's seeds, or a scripted bot). The score is the focal per-capita return:
the mean episode return of the focal slots, with a 95% CI over episodes; the background's
per-capita return and the episode's social outcomes (U, E, S, P) come with it.

A scenario file (configs/scenario/NAME.yaml, or any YAML path):

    description: two focal players among greedy apple eaters
    env: harvest            # a configs/env file; `preset:` and `args:` override its values
    focal_slots: 2
    background:
      - {policy: greedy_eater, weight: 3}
      - {run: runs/harvest_ppo}          # every seed of a run; `chunk:` an older checkpoint
    episodes: 16            # optional; `steps:` caps the episode length

A focal run must have been trained on the scenario's game (same env, preset and args, up
to the episode length); everything is checked before any compile.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jax
import numpy as np
import yaml

from marl.config import ConfigError
from marl.evaluation.episodes import EpisodePlayer, mean_and_ci, rounded, slot_mean
from marl.evaluation.populations import Game, Population, env_config

SCENARIO_KEYS = {"description", "env", "focal_slots", "background", "episodes", "steps"}
BACKGROUND_KEYS = {"policy", "run", "chunk", "weight"}


@dataclass
class Scenario:
    name: str
    env: dict  # name, preset, args: the stored form of a run's `env` config
    focal_slots: int
    background: list[dict]
    episodes: int = 16
    steps: int | None = None
    description: str = ""

    @property
    def weights(self) -> np.ndarray:
        """Each background entry's draw weight."""
        return np.asarray([float(b.get("weight", 1.0)) for b in self.background])


def names() -> list[str]:
    """The scenarios shipped in configs/scenario."""
    folder = resources.files("marl.configs").joinpath("scenario")
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario YAML file; errors name the bad key."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"scenario file {path} does not exist")
        raw, name = yaml.safe_load(path.read_text()), path.stem
    elif name_or_path in names():
        text = resources.files("marl.configs").joinpath("scenario", f"{name_or_path}.yaml")
        raw, name = yaml.safe_load(text.read_text()), name_or_path
    else:
        raise ConfigError(
            f"unknown scenario {name_or_path!r}; shipped: {', '.join(names())} (or a YAML path)"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"scenario {name}: expected a mapping of {sorted(SCENARIO_KEYS)}")
    unknown = set(raw) - SCENARIO_KEYS
    if unknown:
        raise ConfigError(
            f"scenario {name}: unknown keys {sorted(unknown)}; allowed: {sorted(SCENARIO_KEYS)}"
        )
    for key in ("env", "focal_slots", "background"):
        if key not in raw:
            raise ConfigError(f"scenario {name}: missing {key!r}")
    background = raw["background"]
    if not isinstance(background, list) or not background:
        raise ConfigError(f"scenario {name}: background must be a non-empty list")
    for entry in background:
        if not isinstance(entry, dict) or set(entry) - BACKGROUND_KEYS:
            raise ConfigError(
                f"scenario {name}: background entry {entry!r}: allowed keys "
                f"{sorted(BACKGROUND_KEYS)}"
            )
        if ("policy" in entry) == ("run" in entry):
            raise ConfigError(
                f"scenario {name}: background entry {entry!r} needs exactly one "
                f"of policy (a scripted bot) or run (a run folder)"
            )
        if not float(entry.get("weight", 1.0)) > 0:
            raise ConfigError(f"scenario {name}: background weight must be > 0 in {entry!r}")
    return Scenario(
        name=name,
        env=env_config(raw["env"]),
        focal_slots=int(raw["focal_slots"]),
        background=background,
        episodes=int(raw.get("episodes", 16)),
        steps=raw.get("steps"),
        description=str(raw.get("description", "")),
    )


def _background_spec(entry: dict) -> str:
    if "policy" in entry:
        return f"scripted:{entry['policy']}"
    return entry["run"] if entry.get("chunk") is None else f"{entry['run']}:{entry['chunk']}"


def _populations(scenario: Scenario, focal: str, game: Game):
    """Focal and background populations, each checked against the scenario's game."""
    focal_pop = game.member(focal, "focal")
    background = [
        game.member(_background_spec(b), f"background {k}")
        for k, b in enumerate(scenario.background)
    ]
    return focal_pop, background


def check_slots(scenario: Scenario, env, focal: Population) -> None:
    n = env.num_agents
    if not 1 <= scenario.focal_slots < n:
        raise ConfigError(
            f"scenario {scenario.name}: focal_slots={scenario.focal_slots}, but {env.name} has "
            f"{n} agents; a scenario needs 1..{n - 1} focal slots and a background"
        )
    if focal.learner_slots.sum() < scenario.focal_slots:
        raise ConfigError(
            f"scenario {scenario.name}: the focal policy was trained for "
            f"{int(focal.learner_slots.sum())} slot(s), fewer than {scenario.focal_slots}"
        )
    if scenario.episodes < 2:
        raise ConfigError(f"scenario {scenario.name}: episodes must be >= 2")


def assign(
    scenario: Scenario,
    focal: Population,
    background: list[Population],
    n: int,
    rng: np.random.Generator,
):
    """owner/member [E, A] (population 0 is the focal one) and the focal mask [E, A]."""
    e = scenario.episodes
    owner = np.zeros((e, n), np.int32)
    member = np.zeros((e, n), np.int32)
    is_focal = np.zeros((e, n), bool)
    allowed = np.flatnonzero(focal.learner_slots)
    weights = scenario.weights / scenario.weights.sum()
    for ep in range(e):
        slots = rng.choice(allowed, scenario.focal_slots, replace=False)
        is_focal[ep, slots] = True
        member[ep, slots] = rng.integers(0, focal.size, len(slots))
        for slot in np.flatnonzero(~is_focal[ep]):
            entry = rng.choice(len(background), p=weights)
            owner[ep, slot] = 1 + entry
            member[ep, slot] = rng.integers(0, background[entry].size)
    return owner, member, is_focal


def run(
    scenario: Scenario,
    focal: str,
    seed: int = 0,
    episodes: int | None = None,
    steps: int | None = None,
) -> dict:
    """Play a scenario with `focal` (a run folder or `scripted:NAME`), optionally with
    another number of episodes or a cap on the steps; what scenario.json holds."""
    if episodes is not None:
        scenario = dataclasses.replace(scenario, episodes=int(episodes))
    if steps is not None:
        scenario = dataclasses.replace(scenario, steps=int(steps))
    game = Game.of(scenario.env)
    env = game.env
    focal_pop, background = _populations(scenario, focal, game)
    check_slots(scenario, env, focal_pop)
    player = EpisodePlayer(env, game.params, [focal_pop, *background], scenario.steps)
    rng = np.random.default_rng(seed)
    owner, member, is_focal = assign(scenario, focal_pop, background, env.num_agents, rng)
    keys = jax.random.split(jax.random.PRNGKey(seed), scenario.episodes)
    played = player.play(keys, owner, member)
    per_capita = lambda mask: slot_mean(played.returns, mask)
    by_seed = {}
    for s, name in enumerate(focal_pop.names):
        mine = is_focal & (member == s)
        if mine.any():
            by_seed[name] = round(float(played.returns[mine].mean()), 6)
    social = ("efficiency", "equality", "sustainability", "peace")
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "env": scenario.env,
        "focal": focal,
        "focal_slots": scenario.focal_slots,
        "background": scenario.background,
        "episodes": scenario.episodes,
        "steps_per_episode": player.steps,
        "seed": seed,
        "focal_per_capita_return": rounded(mean_and_ci(per_capita(is_focal))),
        "background_per_capita_return": rounded(mean_and_ci(per_capita(~is_focal))),
        "focal_return_by_member": by_seed,
        "social_outcomes": {k: rounded(mean_and_ci(played.outcomes[k])) for k in social},
    }


def save(result: dict, out: Path) -> None:
    """scenario.json and scenario.png into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.json").write_text(json.dumps(result, indent=2))
    plot(result, out / "scenario.png")


def plot(result: dict, path: Path) -> None:
    """Focal and background per-capita returns with their 95% CIs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        f"focal ({result['focal_slots']})": result["focal_per_capita_return"],
        "background": result["background_per_capita_return"],
    }
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    for k, stats in enumerate(groups.values()):
        error = [[stats["mean"] - stats["ci_low"]], [stats["ci_high"] - stats["mean"]]]
        ax.bar(k, stats["mean"], yerr=error, capsize=4, color=("tab:blue", "tab:grey")[k])
    ax.set_xticks(range(len(groups)), list(groups), fontsize=8)
    ax.set_ylabel("per-capita episode return")
    ax.axhline(0, color="black", lw=0.5)
    focal = (
        Path(result["focal"]).name
        if not result["focal"].startswith("scripted:")
        else (result["focal"])
    )
    ax.set_title(f"{result['scenario']}: {focal}\n({result['episodes']} episodes)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

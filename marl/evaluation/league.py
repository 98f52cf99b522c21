"""Leagues: every member against every member, in every slot assignment.

The members are the seeds of each run (a trained population) and scripted policies. Entry
(i, j) of the payoff table puts member i in `focal_copies` slots and member j in all the
others, plays `episodes` episodes, and records the focal slots' mean reward per step in
each (so entries compare across games of different lengths, like `marl-eval RUN`). The
episodes of an entry go through every assignment of the focal slots in turn (among the
slots member i was trained to play; all slots for a scripted policy), so a game's
asymmetric roles (Coin Game's red and blue) count equally; with more assignments than
episodes each episode draws one at random (seeded). In a 2-player game this is the
symmetric payoff table M[i, j] = payoff to i against j that alpha-Rank's single-population
model takes; in an N-player game it is "k focal copies against a background of j".

All entries are one compiled program (`EpisodePlayer`): the assignment is its input.
`LeagueTable.entry_sampler` plays more episodes of chosen entries with the same program,
which is what the adaptive sampler of alpha-Rank under incomplete information asks for.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from marl.config import ConfigError
from marl.evaluation.episodes import EpisodePlayer, slot_mean
from marl.evaluation.populations import Population


@dataclass(frozen=True)
class Member:
    name: str
    population: int
    index: int  # within its population


def members_of(populations: list[Population]) -> list[Member]:
    """Every member of every population, in order."""
    return [
        Member(name, p, i) for p, pop in enumerate(populations) for i, name in enumerate(pop.names)
    ]


class League:
    """Plays league entries: `play(entries, episodes)` -> focal and background payoffs."""

    def __init__(
        self,
        env,
        params,
        populations: list[Population],
        focal_copies: int = 1,
        steps: int | None = None,
        seed: int = 0,
    ):
        n = env.num_agents
        if not 1 <= focal_copies < n:
            raise ConfigError(
                f"focal_copies must be in 1..{n - 1} for {env.name}; got {focal_copies}"
            )
        self.members = members_of(populations)
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ConfigError(f"league members must have distinct names; got {names}")
        for pop in populations:
            if pop.learner_slots.sum() < focal_copies:
                raise ConfigError(
                    f"{pop.names[0]}: trained for {int(pop.learner_slots.sum())} slot(s), "
                    f"fewer than focal_copies={focal_copies}"
                )
        self.player = EpisodePlayer(env, params, populations, steps)
        self.populations = populations
        self.focal_copies = focal_copies
        self.rng = np.random.default_rng(seed)
        self.key = jax.random.PRNGKey(seed)
        self.calls = 0

    def _assign(self, entries: list[tuple[int, int]], episodes: int):
        """owner/member [E, A] and the focal mask [E, A] of `episodes` per entry."""
        n = self.player.env.num_agents
        rows = np.repeat(np.asarray(entries, np.int64).reshape(-1, 2), episodes, axis=0)
        owner = np.empty((len(rows), n), np.int32)
        member = np.empty((len(rows), n), np.int32)
        focal = np.zeros((len(rows), n), bool)
        for e, (i, j) in enumerate(rows):
            row, col = self.members[i], self.members[j]
            focal[e, self._focal_slots(row, e % episodes, episodes)] = True
            owner[e] = np.where(focal[e], row.population, col.population)
            member[e] = np.where(focal[e], row.index, col.index)
        return owner, member, focal

    def _focal_slots(self, row: Member, e: int, episodes: int) -> tuple[int, ...]:
        """The focal slots of an entry's episode e: every assignment of `focal_copies`
        slots (among those the row member was trained for) in turn, as evenly as the
        episodes allow; a random one where there are more assignments than episodes."""
        allowed = np.flatnonzero(self.populations[row.population].learner_slots)
        assignments = list(itertools.combinations(allowed.tolist(), self.focal_copies))
        if len(assignments) > episodes:
            return assignments[self.rng.integers(len(assignments))]
        return assignments[e % len(assignments)]

    def play(self, entries: list[tuple[int, int]], episodes: int):
        """Per-episode focal and background reward per step: two arrays [entries, episodes]."""
        owner, member, focal = self._assign(entries, episodes)
        self.calls += 1
        keys = jax.random.split(jax.random.fold_in(self.key, self.calls), len(owner))
        per_step = self.player.play(keys, owner, member).per_step
        focal_pay, background = slot_mean(per_step, focal), slot_mean(per_step, ~focal)
        shape = (len(entries), episodes)
        return focal_pay.reshape(shape), background.reshape(shape)

    def entry_sampler(self, episodes: int):
        """`sample(entries) -> list of arrays` for alpha-Rank's adaptive sampler, where an
        entry is (0, (i, j)): payoff to member i against member j."""

        def sample(entries):
            pairs = [tuple(profile) for _, profile in entries]
            focal, _ = self.play(pairs, episodes)
            return list(focal)

        return sample


@dataclass
class LeagueTable:
    """A played league: per-entry samples of the focal payoff (and the background's)."""

    env: dict
    names: list[str]
    focal: np.ndarray  # [M, M, E] focal reward per step, per episode
    background: np.ndarray  # [M, M, E]
    focal_copies: int
    steps: int

    @property
    def mean(self) -> np.ndarray:
        return self.focal.mean(-1)

    @property
    def se(self) -> np.ndarray:
        count = self.focal.shape[-1]
        return self.focal.std(-1, ddof=1) / np.sqrt(count) if count > 1 else 0 * self.mean

    def to_json(self) -> dict:
        m = len(self.names)
        return {
            "env": self.env,
            "members": self.names,
            "focal_copies": self.focal_copies,
            "steps_per_episode": self.steps,
            "payoff": "focal slots' mean reward per step; rows: focal member, columns: background",
            "payoff_mean": self.mean.round(6).tolist(),
            "payoff_se": np.asarray(self.se).round(6).tolist(),
            "background_mean": self.background.mean(-1).round(6).tolist(),
            "episodes": np.full((m, m), self.focal.shape[-1]).tolist(),
        }

    def save(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "league.json").write_text(json.dumps(self.to_json(), indent=2))
        np.savez(out / "league_samples.npz", focal=self.focal, background=self.background)
        heatmap(self, out / "league.png")

    @classmethod
    def load(cls, folder: Path) -> LeagueTable:
        folder = Path(folder)
        if not (folder / "league.json").exists() or not (folder / "league_samples.npz").exists():
            raise ConfigError(f"{folder} holds no league (league.json and league_samples.npz)")
        meta = json.loads((folder / "league.json").read_text())
        samples = np.load(folder / "league_samples.npz")
        return cls(
            meta["env"],
            meta["members"],
            samples["focal"],
            samples["background"],
            meta["focal_copies"],
            meta["steps_per_episode"],
        )


def play_league(league: League, env_config: dict, episodes: int) -> LeagueTable:
    """Every entry of `league` with `episodes` episodes each, in one program call."""
    if episodes < 2:
        raise ConfigError(f"episodes must be >= 2 (for standard errors); got {episodes}")
    m = len(league.members)
    entries = [(i, j) for i in range(m) for j in range(m)]
    focal, background = league.play(entries, episodes)
    return LeagueTable(
        env_config,
        [x.name for x in league.members],
        focal.reshape(m, m, episodes),
        background.reshape(m, m, episodes),
        league.focal_copies,
        league.player.steps,
    )


def heatmap(table: LeagueTable, path: Path) -> None:
    """The payoff table with mean +- standard error in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, mean, se = table.names, table.mean, np.asarray(table.se)
    size = 1.5 + 0.75 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(mean, cmap="viridis")
    for (i, j), value in np.ndenumerate(mean):
        ax.text(
            j,
            i,
            f"{value:.2f}\n±{se[i, j]:.2f}",
            ha="center",
            va="center",
            color="white",
            fontsize=7,
        )
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("background (all other slots)")
    ax.set_ylabel(f"focal ({table.focal_copies} slot(s))")
    ax.set_title(
        f"{table.env['name']}: focal reward per step ({table.focal.shape[-1]} episodes per entry)",
        fontsize=9,
    )
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

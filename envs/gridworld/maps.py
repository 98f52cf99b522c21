"""Level maps: ASCII grids shipped as package data (`envs/gridworld/maps/*.txt`).

A map file holds one grid row per line, every row the same width; a space is a cell like
any other character (trailing spaces included). Row 0 is the top row and cell (r, c) has
the flat index `r * width + c`. Which character means what is each game's legend, not the
map's: the same `@` is a wall in SSD Harvest and an apple in the Commons Game map.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np


def map_names() -> list[str]:
    """The map files shipped with the package."""
    folder = resources.files("marl.envs.gridworld") / "maps"
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".txt"))


def read_map(name: str) -> tuple[str, ...]:
    """The rows of a shipped map file, exactly as stored (spaces are cells)."""
    if name not in map_names():
        raise ValueError(f"unknown map {name!r}; shipped maps: {', '.join(map_names())}")
    text = (resources.files("marl.envs.gridworld") / "maps" / name).read_text()
    return parse_rows(text, name)


def parse_rows(text: str, name: str = "map") -> tuple[str, ...]:
    """Split map text into rows; every row must have the same width."""
    rows = tuple(text.split("\n"))
    if rows and rows[-1] == "":
        rows = rows[:-1]  # the file's final newline ends the last row
    if not rows or not rows[0]:
        raise ValueError(f"{name}: empty map")
    widths = {len(r) for r in rows}
    if len(widths) != 1:
        raise ValueError(f"{name}: rows have different widths {sorted(widths)}")
    return rows


@dataclass(frozen=True, eq=False)
class Layout:
    """A parsed map: its characters as a numpy array, and lookups by character."""

    name: str
    chars: np.ndarray  # <U1[H, W]

    @classmethod
    def from_rows(cls, rows: tuple[str, ...], name: str = "map") -> Layout:
        return cls(name, np.array([list(r) for r in rows], dtype="<U1"))

    @classmethod
    def load(cls, name: str) -> Layout:
        return cls.from_rows(read_map(name), name)

    @property
    def height(self) -> int:
        return self.chars.shape[0]

    @property
    def width(self) -> int:
        return self.chars.shape[1]

    def mask(self, chars: str) -> np.ndarray:
        """bool[H, W]: the cells holding any of `chars`."""
        return np.isin(self.chars, list(chars)) if chars else np.zeros(self.chars.shape, bool)

    def cells(self, chars: str) -> np.ndarray:
        """int32[K]: flat indices (row-major) of the cells holding any of `chars`."""
        return np.flatnonzero(self.mask(chars)).astype(np.int32)

"""The project speaks for itself: code, docs and tests cite files a user has (this repo's)
and papers, never internal spec files or issue numbers a user cannot see."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNSEEN = re.compile(
    "(" + "|".join(("ENVS", "ALGOS", "METRICS", "PERFORMANCE", "DESIGN")) + r")\.md"
    r"|\.\./shared/|\b[Ii]ssue #?\d+"
)
SKIP_DIRS = {".git", "build", "runs", "multirun", "outputs", "wandb", "__pycache__"}


def project_files():
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if path.suffix in {".md", ".py", ".sh", ".yaml", ".toml"} and not parts & SKIP_DIRS:
            if path.name != "CHANGELOG.md" and not any(p.endswith(".egg-info") for p in parts):
                yield path


def test_no_file_cites_what_a_user_cannot_see():
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()[:80]}"
        for path in project_files()
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if UNSEEN.search(line)
    ]
    assert not hits, "\n".join(hits)

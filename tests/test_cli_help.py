"""Every command answers --help with its options and examples; options are flags
(marl-train's arguments are Hydra config overrides, `key=value`, by design)."""

import pytest

from marl import bench, render_cli, report
from marl.evaluation.cli import main as eval_main
from marl.reproductions import main as reproduce_main

COMMANDS = {
    "marl-eval": eval_main,
    "marl-bench": bench.main,
    "marl-report": report.main,
    "marl-render": render_cli.main,
    "marl-reproduce": reproduce_main,
}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_the_options_as_flags_and_examples(name, capsys):
    try:
        code = COMMANDS[name](["--help"])
    except SystemExit as exit_info:  # argparse exits after printing the help
        code = exit_info.code
    out = capsys.readouterr().out
    assert code == 0
    assert "examples:" in out and f"\n  {name} " in out.replace(f"\n    {name} ", f"\n  {name} ")
    assert "--out" in out or "--json" in out  # where the command writes, as a flag

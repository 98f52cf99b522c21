"""`marl-report DIR [DIR...]`: runs, sweeps and multiruns become a table and figures.

- `marl.report.runs`: finds run folders and pools seeds into cells by their configs;
- `marl.report.stats`: mean, IQM and 95% stratified-bootstrap CIs over seeds (rliable);
- `marl.report.outputs`: table.csv, table.md and the PNG figures.
"""

from marl.report.cli import main, report

__all__ = ["main", "report"]

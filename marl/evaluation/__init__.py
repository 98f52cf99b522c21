"""Evaluation beyond training curves: scenarios, leagues, alpha-Rank, Shapley
contributions and Schelling diagrams (docs/evaluation.md)."""

"""Spatial gridworld games on one shared engine: Gathering, Harvest and Cleanup.

`engine` holds the rules every game shares (movement, beams, timeouts, observations,
rendering); `maps` reads the level maps shipped in `maps/`; `apples` is the base of the
apple games (gathering, harvest, cleanup: eating, zapping, regrowth hook, statistics);
each game is one module, documented in docs/envs/gathering.md, docs/envs/harvest.md and
docs/envs/cleanup.md.
"""

"""Spatial gridworld games on one shared engine (ENVS.md sections 4-8).

`engine` holds the rules every game shares (movement, beams, timeouts, observations,
rendering); `maps` reads the level maps shipped in `maps/`; `apples` is the base of the
apple games (gathering, harvest, cleanup: eating, zapping, regrowth hook, statistics);
each game is one module.
"""

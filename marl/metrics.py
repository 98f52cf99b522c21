"""Social outcome metrics (Perolat et al. 2017), one function for every environment.

Inputs are per-episode statistics with the agent axis last, as collected by
`marl.wrappers.EpisodeStats`; any leading batch axes are kept.

Edge cases, chosen so nothing divides by zero silently:
- Equality: the Gini denominator is sum_i |R_i|, which equals sum_i R_i whenever no
  return is negative (the spec's definition) and keeps E in [0, 1] when some are (IPD
  payoffs are negative; Cleanup can go negative), where the spec's sum_i R_i can be 0 or
  negative (E = 1.25 for returns (-100, -300)). So Gini is the mean absolute difference
  over twice the mean absolute return, and R and -R have the same E (docs/api.md, "Social
  metrics"). When every return is exactly 0, all agents are equal and E = 1.
- Sustainability: an agent that never had a positive reward counts as time T (the
  episode length), i.e. as if it had waited to the end.
- Steps are counted from 1, so a reward on the first step has time 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def efficiency(returns: jax.Array, length: jax.Array) -> jax.Array:
    """U = sum_i R_i / T."""
    return returns.sum(-1) / length


def equality(returns: jax.Array) -> jax.Array:
    """E = 1 - sum_ij |R_i - R_j| / (2 N sum_i |R_i|)."""
    n = returns.shape[-1]
    # sum_ij |R_i - R_j| from the sorted returns: O(N log N), so 900-agent games stay cheap.
    rank = jnp.arange(n, dtype=returns.dtype)
    spread = 2.0 * ((2.0 * rank - n + 1.0) * jnp.sort(returns, axis=-1)).sum(-1)
    scale = jnp.abs(returns).sum(-1)
    safe = jnp.where(scale > 0, scale, 1.0)
    return jnp.where(scale > 0, 1.0 - spread / (2 * n * safe), 1.0)


def sustainability(
    reward_time_sum: jax.Array, reward_steps: jax.Array, length: jax.Array
) -> jax.Array:
    """S = mean_i t_i, t_i = mean step of agent i's positive rewards (T if none)."""
    length = jnp.asarray(length, jnp.float32)[..., None]
    safe = jnp.maximum(reward_steps, 1)
    t_i = jnp.where(reward_steps > 0, reward_time_sum / safe, length)
    return t_i.mean(-1)


def peace(timed_out_steps: jax.Array, length: jax.Array) -> jax.Array:
    """P = (N T - sum_i sum_t 1[agent i timed out at t]) / T."""
    n = timed_out_steps.shape[-1]
    return (n * length - timed_out_steps.sum(-1)) / length


def social_outcomes(episode: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """U, E, S, P of each episode in `episode` (the dict the EpisodeStats wrapper emits)."""
    length = jnp.asarray(episode["length"], jnp.float32)
    return {
        "efficiency": efficiency(episode["returns"], length),
        "equality": equality(episode["returns"]),
        "sustainability": sustainability(
            episode["reward_time_sum"], episode["reward_steps"], length
        ),
        "peace": peace(episode["timed_out"], length),
    }


def mean_over_episodes(values: jax.Array, finished: jax.Array) -> jax.Array:
    """Average of `values` over the entries where an episode finished (NaN if none did)."""
    finished = finished.astype(jnp.float32)
    count = finished.sum()
    return jnp.where(count > 0, (values * finished).sum() / jnp.maximum(count, 1), jnp.nan)


def episode_summary(env, episode: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Social outcomes, mean return and the game's own rates for each finished episode."""
    out = social_outcomes(episode)
    out["episode_return"] = episode["returns"].mean(-1)
    out["episode_length"] = jnp.asarray(episode["length"], jnp.float32)
    out.update(env.episode_metrics(episode["events"], episode["length"]))
    return out


def episode_metric_sums(env, info: dict, learner=None) -> dict[str, jax.Array]:
    """Sums of `episode_summary` over the episodes that finished in a batch of steps.

    `info` is stacked over any leading axes (e.g. [time, env]); returns the sums under
    "episode/<metric>" and the count under "episodes", so several batches combine by
    adding before dividing. With `learner` (bool[N]) given and not all true, the return
    and the game's rates are also summed over the learning agents only ("learners/...").
    """
    finished = info["returned_episode"]
    episode = info["episode"]
    sums = {"episodes": finished.sum().astype(jnp.float32)}

    def add(prefix, values):
        for name, v in values.items():
            sums[f"{prefix}/{name}"] = jnp.where(finished, v, 0.0).sum()

    add("episode", episode_summary(env, episode))
    if learner is not None and not np.all(learner):  # a static mask: numpy, not traced
        idx = np.flatnonzero(learner)
        per_agent = episode["returns"].shape  # per-agent events share it; others are per game
        pick = lambda v: v[..., idx] if v.shape == per_agent else v
        events = {k: pick(v) for k, v in episode["events"].items()}
        ours = {"episode_return": episode["returns"][..., idx].mean(-1)}
        ours.update(env.episode_metrics(events, episode["length"]))
        add("learners", ours)
    return sums


def step_rates(env, info: dict) -> dict[str, jax.Array]:
    """The game's rates over every step of a batch, episodes finished or not ("step/...").

    `info` is stacked over leading batch axes (e.g. [time, env]) like
    `info["returned_episode"]`. Continuing tasks (the spatial PD) never finish an
    episode; these are their rates.
    """
    batch_axes = tuple(range(info["returned_episode"].ndim))
    means = {k: info[k].astype(jnp.float32).mean(batch_axes) for k in env.episode_events}
    return {f"step/{k}": v for k, v in env.episode_metrics(means, 1.0).items()}


def finish_episode_means(sums: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Turn `episode_metric_sums` (possibly added over batches) into means (NaN if none)."""
    count = sums["episodes"]
    out = {}
    for name, total in sums.items():
        if name == "episodes":
            continue
        key = name.split("/", 1)[1] if name.startswith("episode/") else name
        out[key] = jnp.where(count > 0, total / jnp.maximum(count, 1), jnp.nan)
    return out

"""Parameter sharing: which parameter bank each agent uses.

Every learning algorithm keeps its parameters in banks with a leading axis: one bank for
`shared`, one per agent for `independent`, K for `groups:K` (agent i uses bank i mod K).
"""

from __future__ import annotations

import jax
import numpy as np

from marl.config import fail
from marl.scripted import scripted_slots


def parse_sharing(sharing: str, path: str = "algo") -> tuple[str, int]:
    """('shared', 1) | ('independent', 0) | ('groups', K)."""
    if sharing in ("shared", "independent"):
        return sharing, 1 if sharing == "shared" else 0
    if sharing.startswith("groups:") and sharing[7:].isdigit() and int(sharing[7:]) >= 1:
        return "groups", int(sharing[7:])
    fail(f"{path}.sharing", sharing, "shared, independent or groups:K with K >= 1")


def bank_assignment(sharing: str, num_agents: int) -> np.ndarray:
    """bank_of[i]: which parameter bank agent i uses."""
    mode, k = parse_sharing(sharing)
    if mode == "shared":
        return np.zeros(num_agents, np.int32)
    if mode == "independent":
        return np.arange(num_agents, dtype=np.int32)
    if k > num_agents:
        fail("algo.sharing", sharing, f"K <= the number of agents ({num_agents})")
    return np.arange(num_agents, dtype=np.int32) % k


def bank_members(bank_of: np.ndarray, learner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per bank, its learning agents (padded by repetition) and how many there are.

    Returns (members int32[banks, max_size], counts int32[banks]); a bank whose agents are
    all scripted has count 0 and must not be trained.
    """
    banks = int(bank_of.max()) + 1
    lists = [np.flatnonzero((bank_of == b) & learner) for b in range(banks)]
    width = max(1, max(len(m) for m in lists))
    members = np.zeros((banks, width), np.int32)
    for b, m in enumerate(lists):
        if len(m):
            members[b] = np.resize(m, width)
    return members, np.array([len(m) for m in lists], np.int32)


def apply_per_agent(apply_fn, params, bank_of: np.ndarray, *inputs):
    """Call `apply_fn(params, *inputs)` for agent-major inputs [A, ...], each agent with
    its bank's parameters (banks on the leading axis of every leaf of `params`)."""
    if int(bank_of.max()) == 0:  # one bank: a single call over all agents at once
        return apply_fn(jax.tree.map(lambda p: p[0], params), *inputs)
    per_agent = jax.tree.map(lambda p: p[bank_of], params)
    return jax.vmap(apply_fn)(per_agent, *inputs)


def agent_banks(sharing: str, env, scripted: dict | None):
    """Everything an algorithm needs to know about who learns with which parameters:
    (bank_of int32[A], number of banks, scripted policies by slot, learner mask bool[A])."""
    bank_of = bank_assignment(sharing, env.num_agents)
    policies, learner = scripted_slots(scripted, env)
    return bank_of, int(bank_of.max()) + 1, policies, learner

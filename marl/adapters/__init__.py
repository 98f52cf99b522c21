"""Adapters between `marl` environments and the APIs users already have code for.

- `marl.adapters.jaxmarl`: a `marl` env as a JaxMARL `MultiAgentEnv` (`to_jaxmarl`), and
  a JaxMARL env as a `marl` env (`from_jaxmarl`). Needs the `jaxmarl` package.
- `marl.adapters.pettingzoo`: a PettingZoo `ParallelEnv` over one `marl` env, NumPy in
  and out (`to_pettingzoo`). Needs `pettingzoo`.
- `marl.adapters.gymnax`: a gymnax-style single-agent view of a `marl` env, its other
  agents played by fixed policies (`single_agent`), for single-agent JAX RL code such as
  PureJaxRL. Needs nothing beyond `marl`.

Each adapter module imports its library on import, with an error that says what to
install when it is missing. See docs/api.md, "Adapters".
"""

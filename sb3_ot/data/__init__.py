"""Trajectory type, Minari read/write, d3rlpy conversion.

* :class:`Trajectory` -- one validated, immutable episode: ``obs [T+1, ...]`` (or a dict of them),
  ``acts [T, ...] | None``, ``rews [T] | None``, ``terminated``, ``infos``.
* :func:`save_minari` / :func:`load_trajectories` -- local Minari datasets (atomic writes, no jax,
  never downloads).
* :func:`to_d3rlpy` -- a d3rlpy ``MDPDataset`` that keeps timeouts apart from terminals.
* :func:`rollout` -- episodes of any policy in a Gymnasium env, as trajectories.
"""

from sb3_ot.data.d3rlpy_io import to_d3rlpy
from sb3_ot.data.minari_io import load_trajectories, save_minari
from sb3_ot.data.rollout import rollout, sinusoidal_policy
from sb3_ot.data.trajectory import Trajectory

__all__ = ["Trajectory", "load_trajectories", "rollout", "save_minari", "sinusoidal_policy", "to_d3rlpy"]

"""Trajectory type, Minari read/write, d3rlpy conversion, local D4RL-style datasets.

* :class:`Trajectory` -- one validated, immutable episode: ``obs [T+1, ...]`` (or a dict of them),
  ``acts [T, ...] | None``, ``rews [T] | None``, ``terminated``, ``infos``.
* :func:`save_minari` / :func:`load_trajectories` -- local Minari datasets (atomic writes, no jax,
  never downloads).
* :func:`to_d3rlpy` -- a d3rlpy ``MDPDataset`` that keeps timeouts apart from terminals.
* :func:`rollout` -- episodes of any policy in a Gymnasium env, as trajectories.
* :func:`build_dataset` -- D4RL's ``random``/``medium``/``expert``/``medium-replay``/``medium-expert``
  datasets of any env, from a cached SB3 expert (:func:`train_expert`) or a scripted one (PointMaze);
  :func:`dataset_info`, :func:`list_datasets`, :func:`top_episodes` (expert demonstrations).
"""

from sb3_ot.data.d3rlpy_io import to_d3rlpy
from sb3_ot.data.datasets import (
    KINDS,
    build_dataset,
    build_suite,
    dataset_id,
    dataset_info,
    list_datasets,
    top_episodes,
)
from sb3_ot.data.experts import ExpertRun, train_expert
from sb3_ot.data.minari_io import load_trajectories, read_build_info, save_minari
from sb3_ot.data.rollout import rollout, sb3_policy, sinusoidal_policy
from sb3_ot.data.trajectory import Trajectory

__all__ = [
    "KINDS",
    "ExpertRun",
    "Trajectory",
    "build_dataset",
    "build_suite",
    "dataset_id",
    "dataset_info",
    "list_datasets",
    "load_trajectories",
    "read_build_info",
    "rollout",
    "save_minari",
    "sb3_policy",
    "sinusoidal_policy",
    "to_d3rlpy",
    "top_episodes",
    "train_expert",
]

"""Trajectory type, Minari read/write, d3rlpy conversion; the local D4RL-style datasets re-exported.

* :class:`Trajectory` -- one validated, immutable episode: ``obs [T+1, ...]`` (or a dict of them),
  ``acts [T, ...] | None``, ``rews [T] | None``, ``terminated``, ``infos``.
* :func:`save_minari` / :func:`load_trajectories` -- local Minari datasets (atomic writes, no jax,
  never downloads); :func:`dataset_info`, :func:`read_build_info`, :func:`normalized_score`.
* :func:`to_d3rlpy` -- a d3rlpy ``MDPDataset`` that keeps timeouts apart from terminals.
* :func:`rollout` -- episodes of any policy in a Gymnasium env, as trajectories.
* :func:`top_episodes` -- the best episodes of a list (expert demonstrations).
* :class:`PixelObservationWrapper` / :func:`make_pixel_env` / :func:`render_pixel_trajectories` -- an env's
  own frames (64 x 64 grayscale, stacked, channels first; the state in ``info["state"]``), and a dataset's
  episodes re-rendered from their stored states (pixel world models learn from the same data).
* From :mod:`sb3_ot.datasets`: :func:`build_dataset` (D4RL's ``random``/``medium``/``expert``/
  ``medium-replay``/``medium-expert`` datasets of any env, from a cached SB3 expert
  (:func:`train_expert`) or a scripted one), :func:`build_suite`, :func:`list_datasets`.

Every name is imported on first use (the ``TYPE_CHECKING`` imports below are the list):
``from sb3_ot.data import Trajectory`` loads numpy and the trajectory module only, not
Stable-Baselines3, Minari, d3rlpy or Gymnasium.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sb3_ot.data._lazy import lazy_exports

if TYPE_CHECKING:
    from sb3_ot.data.d3rlpy_io import to_d3rlpy
    from sb3_ot.data.minari_io import load_trajectories, read_build_info, save_minari
    from sb3_ot.data.pixels import PixelObservationWrapper, make_pixel_env, render_pixel_trajectories
    from sb3_ot.data.rollouts import rollout, sb3_policy, sinusoidal_policy
    from sb3_ot.data.scores import normalized_score
    from sb3_ot.data.sources import as_trajectories
    from sb3_ot.data.summary import dataset_info, top_episodes
    from sb3_ot.data.trajectory import Trajectory
    from sb3_ot.datasets.build import build_dataset, build_suite, list_datasets
    from sb3_ot.datasets.experts import ExpertRun, train_expert
    from sb3_ot.datasets.kinds import KINDS, dataset_id

__all__ = [
    "KINDS",
    "ExpertRun",
    "PixelObservationWrapper",
    "Trajectory",
    "as_trajectories",
    "build_dataset",
    "build_suite",
    "dataset_id",
    "dataset_info",
    "list_datasets",
    "load_trajectories",
    "make_pixel_env",
    "normalized_score",
    "read_build_info",
    "render_pixel_trajectories",
    "rollout",
    "save_minari",
    "sb3_policy",
    "sinusoidal_policy",
    "to_d3rlpy",
    "top_episodes",
    "train_expert",
]

__getattr__, __dir__ = lazy_exports(globals())

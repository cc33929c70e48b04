"""Local D4RL-style datasets and the experts that make them.

* :func:`build_dataset` / :func:`build_suite` / :func:`list_datasets` -- D4RL's ``random``, ``medium``,
  ``expert``, ``medium-replay`` and ``medium-expert`` datasets of any env (and ``noisy``, the expert with
  Gaussian action noise, :func:`noisy_policy`), as local Minari datasets
  (:mod:`~sb3_ot.datasets.build`); their names in :mod:`~sb3_ot.datasets.kinds`.
* :func:`train_expert` / :class:`ExpertRun` -- cached, resumable SB3 experts
  (:mod:`~sb3_ot.datasets.experts`), configured by :mod:`~sb3_ot.datasets.expert_configs`.
* :class:`MazeWaypointController`, :class:`FetchController` -- the scripted PointMaze and Fetch experts
  (:mod:`~sb3_ot.datasets.scripted`).
* :func:`dataset_info` -- sizes, returns and scores of a dataset (from :mod:`sb3_ot.data`, where it lives).

Names are imported on first use (the ``TYPE_CHECKING`` imports below are the list):
``from sb3_ot.datasets.kinds import KINDS`` costs no RL import, and neither does ``import sb3_ot.datasets``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sb3_ot.data._lazy import lazy_exports

if TYPE_CHECKING:
    from sb3_ot.data.summary import dataset_info
    from sb3_ot.datasets.build import build_dataset, build_suite, list_datasets
    from sb3_ot.datasets.expert_configs import ALGOS, EXPERT_CONFIGS, ExpertConfig, expert_config
    from sb3_ot.datasets.experts import ExpertRun, train_expert
    from sb3_ot.datasets.kinds import DEFAULT_STEPS, KINDS, NAMESPACE, SUITES, dataset_id
    from sb3_ot.datasets.scripted import (
        FetchController,
        MazeWaypointController,
        epsilon_policy,
        is_scripted,
        noisy_policy,
    )

__all__ = [
    "ALGOS",
    "DEFAULT_STEPS",
    "EXPERT_CONFIGS",
    "KINDS",
    "NAMESPACE",
    "SUITES",
    "ExpertConfig",
    "ExpertRun",
    "FetchController",
    "MazeWaypointController",
    "build_dataset",
    "build_suite",
    "dataset_id",
    "dataset_info",
    "epsilon_policy",
    "expert_config",
    "is_scripted",
    "list_datasets",
    "noisy_policy",
    "train_expert",
]

__getattr__, __dir__ = lazy_exports(globals())

"""Summaries of datasets and trajectory lists: :func:`dataset_info`, :func:`top_episodes`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from sb3_ot._args import check_int
from sb3_ot.data.scores import normalized_score
from sb3_ot.data.trajectory import Trajectory

if TYPE_CHECKING:
    import minari

__all__ = ["dataset_info", "top_episodes"]


def dataset_info(
    dataset: str | os.PathLike[str] | minari.MinariDataset, data_path: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Episodes, steps, returns, terminations/time-outs, reference and normalized scores of a dataset.

    ``dataset`` and ``data_path`` are as in :func:`~sb3_ot.data.load_trajectories`; so are the errors
    for a missing, truncated or corrupt dataset. ``normalized_score`` (D4RL's, of the mean episode
    return; :func:`~sb3_ot.data.normalized_score`) is there when the dataset has reference scores, and
    ``build`` when sb3-ot built it (:func:`~sb3_ot.data.read_build_info`).
    """
    # here, not at the top: top_episodes users should not pay for importing Minari
    from sb3_ot.data.minari_io import build_info_of, damaged_file_errors, open_dataset

    func = "dataset_info"
    ds = open_dataset(dataset, data_path, func=func)
    returns, terminated = [], 0
    with damaged_file_errors(ds, func):
        for ep in ds.iterate_episodes():
            returns.append(float(np.sum(ep.rewards)))
            terminated += bool(ep.terminations[-1])
    returns_arr = np.asarray(returns)
    ref_min, ref_max = ds.storage.metadata.get("ref_min_score"), ds.storage.metadata.get("ref_max_score")
    info: dict[str, Any] = {
        "id": ds.spec.dataset_id,
        "env": ds.spec.env_spec.id if ds.spec.env_spec is not None else None,
        "episodes": int(ds.total_episodes),
        "steps": int(ds.total_steps),
        "terminated": int(terminated),
        "truncated": int(len(returns) - terminated),
        "return_mean": float(returns_arr.mean()),
        "return_std": float(returns_arr.std()),
        "return_min": float(returns_arr.min()),
        "return_max": float(returns_arr.max()),
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
    }
    if ref_min is not None and ref_max is not None:
        info["normalized_score"] = normalized_score(returns_arr, ref_min, ref_max)
    build = build_info_of(ds, func=func)
    if build is not None:
        info["build"] = build
    return info


def top_episodes(
    trajectories: Iterable[Trajectory], k: int, *, min_steps: int | None = None
) -> list[Trajectory]:
    """The ``k`` trajectories with the highest return (stable on ties), e.g. expert demonstrations.

    ``min_steps`` drops shorter episodes first (such as the last episode of a dataset, cut to fit).

    Raises
    ------
    ValueError
        If ``k`` is not a positive int (numpy integers are fine) or ``min_steps`` not a non-negative
        one, if an item is not a :class:`Trajectory` or has no rewards, or if fewer than ``k``
        trajectories qualify.
    """
    func = "top_episodes"
    k = check_int(k, "k", func)
    if min_steps is not None:
        min_steps = check_int(min_steps, "min_steps", func, minimum=0)
    trajs = list(trajectories)
    for i, t in enumerate(trajs):
        if not isinstance(t, Trajectory):
            raise ValueError(f"{func}: trajectories[{i}] must be a Trajectory; got {type(t).__name__}")
        if t.rews is None:
            raise ValueError(f"{func}: trajectories[{i}].rews is None; top_episodes ranks by return")
    if min_steps is not None:
        trajs = [t for t in trajs if t.n_steps >= min_steps]
    if len(trajs) < k:
        raise ValueError(f"{func}: k asks for {k} episodes but only {len(trajs)} qualify")
    order = sorted(range(len(trajs)), key=lambda i: -float(trajs[i].rews.sum()))  # type: ignore[union-attr]
    return [trajs[i] for i in order[:k]]

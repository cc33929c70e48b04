"""Relabel a dataset's rewards with an OT rewarder, ready for offline RL (d3rlpy IQL)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import minari

from sb3_ot.data import Trajectory, load_trajectories, save_minari, to_d3rlpy
from sb3_ot.rewards import OTRewarder, relabel_for_offline

__all__ = ["RelabelResult", "relabel_dataset"]


@dataclass
class RelabelResult:
    """What :func:`relabel_dataset` made.

    Attributes
    ----------
    trajectories : list[Trajectory]
        The relabelled trajectories: ``rews`` are the post-processed OT rewards, the dataset's own
        rewards are kept in ``infos["env_reward"]``.
    reward_scale : float
        The factor applied to the raw OT rewards (1.0 without post-processing).
    minari_dataset : minari.MinariDataset or None
        The relabelled local Minari dataset, when ``dataset_id`` was given.
    mdp_dataset : d3rlpy.dataset.MDPDataset or None
        The d3rlpy dataset, when ``d3rlpy=True``.
    """

    trajectories: list[Trajectory]
    reward_scale: float
    minari_dataset: Any = None
    mdp_dataset: Any = None


def relabel_dataset(
    dataset: str | os.PathLike[str] | minari.MinariDataset | Iterable[Trajectory],
    rewarder: OTRewarder,
    *,
    postprocess: Literal["iql"] | None = "iql",
    d3rlpy: bool = True,
    dataset_id: str | None = None,
    obs_key: str | None = None,
    data_path: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> RelabelResult:
    """Replace every reward of a dataset by the rewarder's OT reward.

    Parameters
    ----------
    dataset : str, PathLike, MinariDataset or Iterable[Trajectory]
        A local Minari dataset (id or folder) or trajectories with actions.
    rewarder : OTRewarder
        With its expert set (:meth:`~sb3_ot.rewards.OTRewarder.set_expert`).
    postprocess : "iql" or None
        ``"iql"``: multiply rewards by ``1000 / (max - min episode return)`` over the relabelled
        dataset, IQL's locomotion normalisation that OTR (and AILOT after it) apply before IQL.
        ``None``: raw OT rewards.
    d3rlpy : bool
        Also build a d3rlpy ``MDPDataset`` (timeouts kept apart from terminals, see
        :func:`sb3_ot.data.to_d3rlpy`).
    dataset_id : str or None
        Also save the relabelled trajectories as this local Minari dataset (atomically), with the
        source's env spec when the input was a Minari dataset.
    obs_key : str or None
        Key of dict observations for d3rlpy (default ``"observation"``).
    data_path, overwrite : as in :func:`sb3_ot.data.save_minari`.
    progress : bool
        Progress bar over rewarder batches.

    Returns
    -------
    RelabelResult
    """
    env = None
    if isinstance(dataset, str | os.PathLike | minari.MinariDataset):
        ds = dataset if isinstance(dataset, minari.MinariDataset) else None
        trajectories = load_trajectories(dataset, data_path=None if ds is not None else data_path)
        if ds is None:
            from sb3_ot.data.minari_io import open_dataset

            ds = open_dataset(dataset, data_path)
        env = ds.spec.env_spec
    else:
        trajectories = list(dataset)
    relabelled, scale = relabel_for_offline(
        trajectories, rewarder, postprocess=postprocess, progress=progress
    )
    result = RelabelResult(relabelled, scale)
    if dataset_id is not None:
        result.minari_dataset = save_minari(
            relabelled,
            dataset_id,
            env=env,
            algorithm_name=f"sb3_ot.{type(rewarder).__name__}",
            description=f"rewards relabelled by {rewarder!r}, scaled by {scale:.6g}",
            data_path=data_path,
            overwrite=overwrite,
        )
    if d3rlpy:
        result.mdp_dataset = to_d3rlpy(relabelled, obs_key=obs_key)
    return result

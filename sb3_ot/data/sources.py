"""Where trajectories come from: everything sb3-ot accepts as "some episodes", as a list of
:class:`~sb3_ot.data.Trajectory` (a local Minari id, folder or ``MinariDataset``, Trajectory objects,
observation arrays or tensors). Rewarders take their experts through it, world models their data."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from sb3_ot.data.trajectory import Trajectory

__all__ = ["as_trajectories"]


def as_trajectories(
    expert: Any, *, func: str, obs_key: str | None = None, name: str = "expert"
) -> list[Trajectory]:
    """Expert demonstrations as trajectories: Trajectory(s), observation arrays or tensors
    ``[T+1, obs_dim]``, or a local Minari dataset id / folder / MinariDataset (all its episodes).
    Errors call the argument ``name`` (``"data"`` for a model's training data)."""
    minari = sys.modules.get("minari")  # a MinariDataset can only exist once minari is imported
    torch = sys.modules.get("torch")  # likewise a tensor: this module does not import torch itself
    if isinstance(expert, str | os.PathLike) or (
        minari is not None and isinstance(expert, minari.MinariDataset)
    ):
        from sb3_ot.data.minari_io import load_trajectories

        return load_trajectories(expert)
    if isinstance(expert, Trajectory):
        return [expert]
    arrays = (np.ndarray, torch.Tensor) if torch is not None else (np.ndarray,)
    if isinstance(expert, arrays):
        expert = [expert] if expert.ndim == 2 else list(expert)
    items = list(expert)
    if not items:
        raise ValueError(f"{func}: {name} must hold at least one trajectory; got none")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Trajectory):
            out.append(item)
            continue
        arr = np.asarray(
            item.detach().cpu() if torch is not None and isinstance(item, torch.Tensor) else item
        )
        if arr.ndim != 2:
            raise ValueError(
                f"{func}: {name}[{i}] must be observations [T+1, obs_dim]; got shape {arr.shape}"
            )
        try:
            out.append(Trajectory(arr, None, terminated=False))
        except ValueError as err:
            raise ValueError(f"{func}: {name}[{i}]: {err}") from err
    return out

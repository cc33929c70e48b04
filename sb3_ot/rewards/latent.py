"""DITTO's reward inside a world model: closeness to the expert's latent at the same time offset.

DITTO (DeMoss et al.) starts an imagined episode at an expert latent ``z^E_t`` and rewards imagined step
``k`` (1-based) by how well its latent ``z_k`` matches the expert's ``z^E_{t+k}``:

``r = <z_k, z^E_{t+k}> / max(|z_k|, |z^E_{t+k}|)^2``

which is 1 for the same latent, falls with both the angle and the ratio of the norms, and lies in
``[-1, 1]``. The imagination env passes the time index ``t + k`` it compares with (``time``), and which
expert episode the start came from (``episode``); this module never imports the world model (the
DESIGN's dependency rule): it only sees latents.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.encoders.base import as_device

__all__ = ["LatentRewarder"]


class LatentRewarder:
    """DITTO's latent-similarity reward against expert latent sequences.

    Parameters
    ----------
    expert_latents : sequence of ``[T_e + 1, L]`` arrays or tensors, optional
        Each expert episode's latents (``world_model.encode`` of its observations); see :meth:`set_expert`.
    center : bool
        Measure latents from the mean expert latent ``c`` (over all expert states): the reward becomes
        ``<z - c, zE - c> / max(|z - c|, |zE - c|)^2``. The default ``False`` is DITTO's formula on the
        raw latents. A world model's latents share a large common component (on HalfCheetah two random
        expert states have cosine similarity 0.70), which squeezes the raw reward into ``[0.7, 1]``;
        centring restores the range, yet PPO trained on it did worse in the real env (measured in
        docs/world_models.md), so it is an option, not the default.
    device : str, torch.device or None
        Where the expert latents live and rewards are computed (default: the first latent's device, else
        the CPU).

    Call it as ``reward(z_next [n, L], actions, episode [n], time [n]) -> [n]`` (the imagination env's
    reward signature): row ``i`` is compared with ``expert_latents[episode[i]][time[i]]``.
    """

    def __init__(
        self,
        expert_latents: Sequence[Any] | None = None,
        *,
        center: bool = False,
        device: str | torch.device | None = None,
    ):
        if not isinstance(center, bool):
            raise ValueError(f"LatentRewarder: center must be True or False; got {center!r}")
        self.center = center
        self._device = as_device(device)
        self.origin = torch.zeros(0)  # [L]: c (zeros when center=False)
        self.latents = torch.zeros(0, 0, 0)  # [E, T_max, L], zero-padded
        self.lengths = torch.zeros(0, dtype=torch.long)  # [E]: latents per episode (T_e + 1)
        if expert_latents is not None:
            self.set_expert(expert_latents)

    @property
    def device(self) -> torch.device:
        return self.latents.device

    @property
    def latent_dim(self) -> int:
        return int(self.latents.shape[-1])

    def set_expert(self, expert_latents: Sequence[Any]) -> LatentRewarder:
        """Set the expert episodes' latents ``[T_e + 1, L]`` (arrays or tensors, one latent size); returns
        ``self``."""
        single = isinstance(expert_latents, np.ndarray | torch.Tensor) and expert_latents.ndim == 2
        items = [expert_latents] if single else list(expert_latents)
        if not items:
            raise ValueError(
                "LatentRewarder.set_expert: expert_latents must hold at least one episode; got none"
            )
        tensors = [_latent_tensor(x, i) for i, x in enumerate(items)]
        for i, t in enumerate(tensors):
            if t.shape[1] != tensors[0].shape[1]:
                raise ValueError(
                    f"LatentRewarder.set_expert: expert_latents[{i}] has latent size {t.shape[1]} but "
                    f"expert_latents[0] has {tensors[0].shape[1]}"
                )
        device = self._device or tensors[0].device
        lengths = torch.tensor([len(t) for t in tensors])
        padded = torch.zeros(len(tensors), int(lengths.max()), tensors[0].shape[1], device=device)
        for i, t in enumerate(tensors):
            padded[i, : len(t)] = t.to(device)
        self.latents, self.lengths = padded, lengths.to(device)
        flat = torch.cat([t.to(device) for t in tensors])
        self.origin = flat.mean(0) if self.center else torch.zeros(flat.shape[1], device=device)
        return self

    @torch.no_grad()
    def __call__(self, z_next: Any, actions: Any, episode: Any, time: Any) -> torch.Tensor:
        """Rewards ``[n]`` of imagined latents ``z_next [n, L]`` against the expert latents at
        ``(episode[i], time[i])``. ``actions`` are not used (DITTO rewards states only)."""
        func = "LatentRewarder"
        if self.latents.numel() == 0:
            raise ValueError(f"{func}: no expert latents set; call set_expert(...) first")
        z = torch.as_tensor(z_next, dtype=torch.float32, device=self.device)
        ep = torch.as_tensor(episode, dtype=torch.long, device=self.device).reshape(-1)
        t = torch.as_tensor(time, dtype=torch.long, device=self.device).reshape(-1)
        _check_rows(z, ep, t, self.latent_dim, self.lengths, func)
        z, expert = z - self.origin, self.latents[ep, t] - self.origin  # [n, L]
        scale = torch.maximum(z.norm(dim=-1), expert.norm(dim=-1)).pow(2).clamp_min(1e-12)
        return (z * expert).sum(-1) / scale

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the expert latents to ``path`` (atomically; tensors only)."""
        latents = [self.latents[i, :n].cpu() for i, n in enumerate(self.lengths.tolist())]
        return save_checkpoint(path, {"kind": "LatentRewarder", "latents": latents, "center": self.center})

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, device: str | torch.device | None = None
    ) -> LatentRewarder:
        """Load a rewarder saved with :meth:`save` (nothing in the file is executed)."""
        data = load_checkpoint(path, func="LatentRewarder.load", what="rewarder file", kind="LatentRewarder")
        return cls(data["latents"], center=bool(data.get("center", False)), device=device)

    def __repr__(self) -> str:
        dim = self.latent_dim if self.latents.numel() else None
        return f"LatentRewarder(episodes={len(self.lengths)}, latent_dim={dim}, center={self.center})"


def _latent_tensor(x: Any, i: int) -> torch.Tensor:
    t = (
        x.detach().float()
        if isinstance(x, torch.Tensor)
        else torch.as_tensor(np.asarray(x, dtype=np.float32))
    )
    if t.ndim != 2 or t.shape[0] < 2:
        raise ValueError(
            f"LatentRewarder.set_expert: expert_latents[{i}] must be latents [T+1, L] with T >= 1; got shape "
            f"{tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"LatentRewarder.set_expert: expert_latents[{i}] must be finite; got NaN or inf")
    return t


def _check_rows(
    z: torch.Tensor, ep: torch.Tensor, t: torch.Tensor, dim: int, lengths: torch.Tensor, func: str
) -> None:
    """Shapes, finiteness and index ranges of one reward call; errors name the argument and the bad row."""
    if z.ndim != 2 or z.shape[1] != dim:
        raise ValueError(f"{func}: z_next must be latents [n, {dim}]; got shape {tuple(z.shape)}")
    if len(ep) != len(z) or len(t) != len(z):
        raise ValueError(
            f"{func}: episode and time must hold one index per row ({len(z)}); got {len(ep)} and {len(t)}"
        )
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{func}: z_next must be finite; got NaN or inf")
    bad = (ep < 0) | (ep >= len(lengths))
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{func}: episode[{i}] = {int(ep[i])} is not one of the {len(lengths)} expert episodes"
        )
    bad = (t < 0) | (t >= lengths[ep])
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{func}: time[{i}] = {int(t[i])} is past expert episode {int(ep[i])}'s {int(lengths[ep[i]])} latents"
        )

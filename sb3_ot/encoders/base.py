"""The encoder interface OT costs are computed in, and the two simplest encoders.

An encoder maps observations ``[..., obs_dim]`` to features ``[..., dim]`` (float32). It is fitted on
trajectories (``fit``), applied with ``encode``, and saved/loaded as one file, atomically.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from sb3_ot.data.trajectory import Trajectory

__all__ = ["Encoder", "IdentityEncoder", "NormalizedStateEncoder", "load_encoder", "stack_observations"]


def stack_observations(
    trajectories: Iterable[Trajectory], obs_key: str | None, func: str
) -> list[np.ndarray]:
    """Each trajectory's observations ``[T+1, obs_dim]`` as float32 (``obs_key`` for dict observations).

    Raises a ValueError naming ``func`` for an empty list, a non-Trajectory, non-flat observations
    or trajectories whose observation sizes differ.
    """
    trajs = list(trajectories)
    if not trajs:
        raise ValueError(f"{func}: trajectories must hold at least one Trajectory; got none")
    out = []
    for i, t in enumerate(trajs):
        if not isinstance(t, Trajectory):
            raise ValueError(f"{func}: trajectories[{i}] must be a Trajectory; got {type(t).__name__}")
        try:
            obs = t.observations(obs_key if t.is_dict_obs else None)
        except ValueError as err:
            raise ValueError(f"{func}: trajectories[{i}]: {err}") from err
        if obs.ndim != 2:
            raise ValueError(
                f"{func}: trajectories[{i}] observations must be flat vectors [T+1, obs_dim]; got {obs.shape}"
            )
        if out and obs.shape[1] != out[0].shape[1]:
            raise ValueError(
                f"{func}: trajectories[{i}] has obs_dim {obs.shape[1]} but trajectories[0] has "
                f"{out[0].shape[1]}"
            )
        out.append(np.asarray(obs, dtype=np.float32))
    return out


class Encoder:
    """Base class: ``fit(trajectories)``, ``encode(obs) -> [..., dim]``, ``save(path)``, ``load(path)``.

    Subclasses set ``kind`` (registered for :func:`load_encoder`), implement ``_encode`` on a float32
    tensor ``[N, obs_dim]`` and ``_state`` / ``_from_state`` for saving.
    """

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Encoder]]] = {}
    obs_dim: int | None
    obs_key: str | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Encoder._registry[cls.kind] = cls

    @property
    def dim(self) -> int:
        """Feature size."""
        raise NotImplementedError

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> Encoder:
        """Fit on trajectories (observations only); returns ``self``."""
        raise NotImplementedError

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_obs(self, obs: Any) -> torch.Tensor:
        if isinstance(obs, Trajectory):
            obs = obs.observations(self.obs_key if obs.is_dict_obs else None)
        if isinstance(obs, Mapping):
            key = self.obs_key or "observation"
            if key not in obs:
                raise ValueError(f"obs: dict observations without key {key!r}; keys {sorted(obs)}")
            obs = obs[key]
        x = obs if isinstance(obs, torch.Tensor) else torch.from_numpy(np.array(obs))  # a writable copy
        if self.obs_dim is None:
            raise ValueError(f"{type(self).__name__}.encode: call fit() first")
        if x.ndim < 1 or x.shape[-1] != self.obs_dim:
            raise ValueError(
                f"obs: expected shape [..., {self.obs_dim}] (the fitted obs_dim); got {tuple(x.shape)}"
            )
        if not (x.dtype.is_floating_point or x.dtype in (torch.int32, torch.int64, torch.uint8)):
            raise ValueError(f"obs: expected a numeric array; got dtype {x.dtype}")
        x = x.float()
        if not torch.isfinite(x).all():
            raise ValueError("obs: must be finite; got NaN or inf")
        return x

    @torch.no_grad()
    def encode(self, obs: Any) -> np.ndarray:
        """Features of ``obs`` ``[..., obs_dim]`` (array, tensor, dict or Trajectory): float32 ``[..., dim]``."""
        x = self._check_obs(obs)
        lead = x.shape[:-1]
        out = self._encode(x.reshape(-1, x.shape[-1]))
        return out.reshape(*lead, -1).cpu().numpy().astype(np.float32, copy=False)

    # --------------------------------------------------------------- persistence
    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> Encoder:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the encoder to ``path`` (one torch file), atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save({"kind": self.kind, "state": self._state()}, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Encoder:
        """Load an encoder saved with :meth:`save` (of this class or, from ``Encoder``, any class)."""
        data = torch.load(Path(path), map_location="cpu", weights_only=False)
        kind = data.get("kind")
        target = Encoder._registry.get(kind)
        if target is None or not issubclass(target, cls):
            raise ValueError(f"path: {path} holds a {kind!r} encoder, not a {cls.__name__}")
        return target._from_state(data["state"])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(obs_dim={self.obs_dim}, obs_key={self.obs_key!r})"


def load_encoder(path: str | os.PathLike[str]) -> Encoder:
    """Load any encoder saved with ``save``."""
    return Encoder.load(path)


class IdentityEncoder(Encoder):
    """Raw observations as features (``dim = obs_dim``)."""

    kind = "identity"

    def __init__(self, obs_dim: int | None = None, *, obs_key: str | None = None) -> None:
        self.obs_dim, self.obs_key = obs_dim, obs_key

    @property
    def dim(self) -> int:
        if self.obs_dim is None:
            raise ValueError("IdentityEncoder.dim: call fit() first or pass obs_dim")
        return self.obs_dim

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> IdentityEncoder:
        self.obs_dim = stack_observations(trajectories, self.obs_key, "IdentityEncoder.fit")[0].shape[1]
        return self

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _state(self) -> dict[str, Any]:
        return {"obs_dim": self.obs_dim, "obs_key": self.obs_key}

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> IdentityEncoder:
        return cls(state["obs_dim"], obs_key=state["obs_key"])


class NormalizedStateEncoder(Encoder):
    """Observations standardised by the mean and std of the fitted data (``dim = obs_dim``)."""

    kind = "normalized"

    def __init__(self, *, obs_key: str | None = None, min_std: float = 1e-6) -> None:
        self.obs_key, self.min_std = obs_key, float(min_std)
        self.obs_dim: int | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    @property
    def dim(self) -> int:
        if self.obs_dim is None:
            raise ValueError("NormalizedStateEncoder.dim: call fit() first")
        return self.obs_dim

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> NormalizedStateEncoder:
        obs = np.concatenate(stack_observations(trajectories, self.obs_key, "NormalizedStateEncoder.fit"))
        self.obs_dim = int(obs.shape[1])
        self.mean = obs.mean(0).astype(np.float32)
        self.std = np.maximum(obs.std(0), self.min_std).astype(np.float32)
        return self

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - torch.from_numpy(self.mean)) / torch.from_numpy(self.std)

    def _state(self) -> dict[str, Any]:
        return {
            "obs_key": self.obs_key,
            "min_std": self.min_std,
            "obs_dim": self.obs_dim,
            "mean": self.mean,
            "std": self.std,
        }

    @classmethod
    def _from_state(cls, state: dict[str, Any]) -> NormalizedStateEncoder:
        enc = cls(obs_key=state["obs_key"], min_std=state["min_std"])
        enc.obs_dim, enc.mean, enc.std = state["obs_dim"], state["mean"], state["std"]
        return enc

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

from sb3_ot._args import check_float, check_int
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.data.trajectory import Trajectory

__all__ = [
    "Encoder",
    "IdentityEncoder",
    "NormalizedStateEncoder",
    "as_device",
    "load_encoder",
    "stack_observations",
]


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


def as_device(device: str | torch.device | None) -> torch.device | None:
    """``device`` as a ``torch.device`` (None stays None: follow the inputs)."""
    return None if device is None else torch.device(device)


class Encoder:
    """Base class: ``fit(trajectories)``, ``encode(obs) -> [..., dim]``, ``save(path)``, ``load(path)``.

    Subclasses set ``kind`` (registered for :func:`load_encoder`), implement ``_encode`` on a float32
    tensor ``[N, obs_dim]`` already on :attr:`device`, and ``_state`` / ``_from_state`` for saving (tensors
    and plain values only: checkpoints load with ``torch.load(weights_only=True)``).

    ``device`` is where encoding runs. ``None`` (the parameter-free encoders' default) follows the
    inputs: a CUDA tensor is encoded on CUDA, a numpy array on the CPU.
    """

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type[Encoder]]] = {}
    obs_dim: int | None
    obs_key: str | None
    device: torch.device | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Encoder._registry[cls.kind] = cls

    @property
    def dim(self) -> int:
        """Feature size: the observation size, unless a subclass maps to another."""
        if self.obs_dim is None:
            raise ValueError(f"{type(self).__name__}.dim: call fit() first")
        return self.obs_dim

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> Encoder:
        """Fit on trajectories (observations only); returns ``self``."""
        raise NotImplementedError

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _check_obs(self, obs: Any, func: str) -> torch.Tensor:
        """``obs`` (array, tensor, dict or Trajectory) as a finite float32 tensor ``[..., obs_dim]`` on the
        encoding device; errors name ``func``."""
        if isinstance(obs, Trajectory):
            obs = obs.observations(self.obs_key if obs.is_dict_obs else None)
        if isinstance(obs, Mapping):
            key = self.obs_key or "observation"
            if key not in obs:
                raise ValueError(f"{func}: obs is a dict without key {key!r}; keys {sorted(obs)}")
            obs = obs[key]
        x = obs if isinstance(obs, torch.Tensor) else torch.from_numpy(np.array(obs))  # a writable copy
        if self.obs_dim is None:
            raise ValueError(f"{func}: call fit() first")
        if x.ndim < 1 or x.shape[-1] != self.obs_dim:
            raise ValueError(
                f"{func}: obs must have shape [..., {self.obs_dim}] (the fitted obs_dim); got {tuple(x.shape)}"
            )
        if not (x.dtype.is_floating_point or x.dtype in (torch.int32, torch.int64, torch.uint8)):
            raise ValueError(f"{func}: obs must be numeric; got dtype {x.dtype}")
        x = x.to(device=self.device or x.device, dtype=torch.float32)
        if not torch.isfinite(x).all():
            raise ValueError(f"{func}: obs must be finite; got NaN or inf")
        return x

    @torch.no_grad()
    def encode(self, obs: Any) -> Any:
        """Features ``[..., dim]`` of ``obs`` ``[..., obs_dim]`` (array, tensor, dict or Trajectory).

        numpy in, numpy (float32) out; a tensor in, a float32 tensor out on the encoding device.
        """
        tensor_in = isinstance(obs, torch.Tensor) or (
            isinstance(obs, Mapping) and isinstance(obs.get(self.obs_key or "observation"), torch.Tensor)
        )
        x = self._check_obs(obs, f"{type(self).__name__}.encode")
        lead = x.shape[:-1]
        out = self._encode(x.reshape(-1, x.shape[-1])).reshape(*lead, -1)
        return out if tensor_in else out.cpu().numpy().astype(np.float32, copy=False)

    def to(self, device: str | torch.device | None) -> Encoder:
        """Move encoding (and any parameters) to ``device``; returns ``self``."""
        self.device = as_device(device)
        return self

    # --------------------------------------------------------------- persistence
    def _state(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_state(cls, state: dict[str, Any], device: torch.device | None) -> Encoder:
        raise NotImplementedError

    def to_payload(self) -> dict[str, Any]:
        """``{"kind", "state"}``: what :meth:`save` writes (rewarders embed it in their own files)."""
        return {"kind": self.kind, "state": self._state()}

    @classmethod
    def from_payload(
        cls, payload: dict[str, Any], *, device: str | torch.device | None = None, func: str = "Encoder.load"
    ) -> Encoder:
        """The encoder :meth:`to_payload` described (of this class or, from ``Encoder``, any class)."""
        kind = payload.get("kind")
        target = Encoder._registry.get(kind)  # type: ignore[arg-type]
        if target is None or not issubclass(target, cls):
            raise ValueError(f"{func}: the file holds a {kind!r} encoder, not a {cls.__name__}")
        try:
            return target._from_state(payload["state"], as_device(device))
        except (KeyError, TypeError) as err:
            raise ValueError(f"{func}: the {kind!r} encoder's saved state is incomplete ({err!r})") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the encoder to ``path`` (one torch file of tensors and plain values), atomically."""
        return save_checkpoint(path, self.to_payload())

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Encoder:
        """Load an encoder saved with :meth:`save` onto ``device`` (default: the CPU for encoders with
        parameters; the parameter-free ones follow their inputs). Nothing in the file is executed
        (``weights_only=True``)."""
        func = f"{cls.__name__}.load"
        return cls.from_payload(
            load_checkpoint(path, func=func, what="encoder file"), device=device, func=func
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(obs_dim={self.obs_dim}, obs_key={self.obs_key!r})"


def load_encoder(path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> Encoder:
    """Load any encoder saved with ``save``."""
    return Encoder.load(path, device=device)


class IdentityEncoder(Encoder):
    """Raw observations as features (``dim = obs_dim``)."""

    kind = "identity"

    def __init__(
        self,
        obs_dim: int | None = None,
        *,
        obs_key: str | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        self.obs_dim = None if obs_dim is None else check_int(obs_dim, "obs_dim", "IdentityEncoder")
        self.obs_key, self.device = obs_key, as_device(device)

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> IdentityEncoder:
        self.obs_dim = stack_observations(trajectories, self.obs_key, "IdentityEncoder.fit")[0].shape[1]
        return self

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _state(self) -> dict[str, Any]:
        return {"obs_dim": self.obs_dim, "obs_key": self.obs_key}

    @classmethod
    def _from_state(cls, state: dict[str, Any], device: torch.device | None) -> IdentityEncoder:
        return cls(state["obs_dim"], obs_key=state["obs_key"], device=device)


class NormalizedStateEncoder(Encoder):
    """Observations standardised by the mean and std of the fitted data (``dim = obs_dim``)."""

    kind = "normalized"

    def __init__(
        self, *, obs_key: str | None = None, min_std: float = 1e-6, device: str | torch.device | None = None
    ) -> None:
        self.obs_key, self.device = obs_key, as_device(device)
        self.min_std = check_float(min_std, "min_std", "NormalizedStateEncoder", low=0.0, low_open=False)
        self.obs_dim: int | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self._stats: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}  # mean, std per device

    def fit(self, trajectories: Iterable[Trajectory], **kwargs: Any) -> NormalizedStateEncoder:
        obs = np.concatenate(stack_observations(trajectories, self.obs_key, "NormalizedStateEncoder.fit"))
        self.obs_dim = int(obs.shape[1])
        self._set_stats(obs.mean(0), np.maximum(obs.std(0), self.min_std))
        return self

    def _set_stats(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self._stats = {}

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.device not in self._stats:  # the statistics are copied to each device once
            self._stats[x.device] = (
                torch.from_numpy(self.mean).to(x.device),
                torch.from_numpy(self.std).to(x.device),
            )
        mean, std = self._stats[x.device]
        return (x - mean) / std

    def _state(self) -> dict[str, Any]:
        return {
            "obs_key": self.obs_key,
            "min_std": self.min_std,
            "obs_dim": self.obs_dim,
            "mean": None if self.mean is None else torch.from_numpy(self.mean),
            "std": None if self.std is None else torch.from_numpy(self.std),
        }

    @classmethod
    def _from_state(cls, state: dict[str, Any], device: torch.device | None) -> NormalizedStateEncoder:
        enc = cls(obs_key=state["obs_key"], min_std=state["min_std"], device=device)
        enc.obs_dim = state["obs_dim"]
        if state["mean"] is not None:
            enc._set_stats(state["mean"].numpy(), state["std"].numpy())
        return enc

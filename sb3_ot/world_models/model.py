"""A deterministic latent world model (TD-MPC2-style, no RSSM) for training policies in imagination.

Four networks, all built from :mod:`sb3_ot.nn` (Mish, LayerNorm before the activation, as TD-MPC2):

* ``encoder``: observation ``[obs_dim] -> z [latent_dim]`` (an MLP), or frames ``[C, 64, 64] -> z`` (DreamerV2's
  CNN, ``cnn_depth`` wide, then a linear layer) for pixel observations;
* ``dynamics``: an ensemble of ``K`` heads ``(z, a) -> z'``, each predicting a residual ``z' = z + f_k(z, a)``
  (an untrained head is the "nothing changes" model, the repeat-last-observation baseline);
* ``decoder``: ``z -> observation`` (the transposed CNN for pixels); ``termination``: ``z -> logit of "this state is terminal"``.

Every latent (encoded or predicted) goes through a parameter-free LayerNorm: zero mean, unit variance over
its dimensions. This fixes the latent's scale, the job TD-MPC2's SimNorm does, so the consistency loss
cannot be lowered by shrinking all latents towards 0.

Training (:meth:`WorldModel.fit`) samples sub-sequences ``o_0 .. o_H`` (``H = rollout``) with their
actions, encodes ``o_0`` and rolls each head forward on the true actions. The loss at predicted step
``t`` (weight ``rho^(t-1)``, averaged with these weights) is

* ``recon * |decode(z^k_t) - o_t|^2`` (plus the reconstruction of ``o_0`` from its encoding),
* ``consistency * |z^k_t - sg(target_encoder(o_t))|^2`` (a Polyak-averaged copy of the encoder),
* ``termination * BCE(termination(z^k_t), 1[o_t is the last state of a terminated episode])`` (also on
  the online encodings of ``o_0 .. o_H``, so ``terminated(encode(obs))`` is trained too);
* with ``inverse > 0``, ``inverse * |g(z_t, z_t+1) - a_t|^2`` on the online encodings of consecutive
  observations (an inverse-dynamics head ``g``; cross-entropy for Discrete actions): the latent must show
  what the action did, which a pixel model's latent otherwise barely does (docs/world_models.md, "Pixels");

averaged over heads. Steps past an episode's end are masked out. Observations (and Box actions) are
standardised inside the model, so :meth:`~WorldModel.encode` takes raw observations and
:meth:`~WorldModel.decode` returns raw observations.

Pixel observations (uint8 frames ``[C, 64, 64]``, channels first: a stack of ``C`` grayscale frames from
:class:`~sb3_ot.data.PixelObservationWrapper`) are scaled to ``[-0.5, 0.5]`` (DreamerV2) instead of
standardised. Their predicted steps are reconstructed from the heads' mean latent, not from every head:
decoding ``K x H`` images per window would cost ``K`` times more on a CPU, and the consistency term
still trains every head (docs/world_models.md, "Pixels").
"""

from __future__ import annotations

import copy
import math
import numbers
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from sb3_ot._args import check_float, check_int, check_widths, with_overrides
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.data.sources import as_trajectories
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.encoders.base import stack_observations
from sb3_ot.nn import (
    as_float_tensor,
    conv_decoder,
    conv_encoder,
    ensemble_mlp,
    image_tensor,
    like_input,
    mlp,
    polyak_update,
)

__all__ = ["WorldModel", "WorldModelConfig"]

_FORMAT = "sb3_ot.world_model"  # the checkpoint's "format" entry; anything else is refused on load
_VERSION = 1
Head = str | int


@dataclass(frozen=True)
class WorldModelConfig:
    """World-model hyperparameters; docs/world_models.md says why each default is what it is."""

    latent_dim: int = 64
    hidden: tuple[int, ...] = (256, 256)
    n_heads: int = 5
    rollout: int = 5
    batch_size: int = 256
    lr: float = 3e-4
    recon: float = 1.0
    consistency: float = 20.0
    termination: float = 1.0
    rho: float = 0.5
    tau: float = 0.01
    holdout: float = 0.1
    grad_clip: float = 20.0
    min_std: float = 1e-2
    cnn_depth: int = 32  # pixel models only: the CNNs' width (DreamerV2 / CMIL: 48)
    inverse: float = 0.0  # inverse-dynamics weight (0: no head; see the module doc)

    def __post_init__(self) -> None:
        func = "WorldModelConfig"
        if isinstance(self.hidden, numbers.Integral | str) or not isinstance(self.hidden, Sequence):
            raise ValueError(f"{func}: hidden must be a sequence of layer widths; got {self.hidden!r}")
        object.__setattr__(self, "hidden", check_widths(self.hidden, "hidden", func))
        for name in ("latent_dim", "n_heads", "rollout", "batch_size", "cnn_depth"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        if self.latent_dim < 2:
            raise ValueError(f"{func}: latent_dim must be >= 2 (latents are layer-normalised); got 1")
        for name in ("recon", "consistency", "termination", "inverse"):
            check_float(getattr(self, name), name, func, low=0.0, low_open=False)
        for name in ("rho", "tau"):
            check_float(getattr(self, name), name, func, low=0.0, high=1.0)
        check_float(self.holdout, "holdout", func, low=0.0, high=0.9, low_open=False)
        for name in ("lr", "grad_clip", "min_std"):
            check_float(getattr(self, name), name, func)


def _unit(z: torch.Tensor) -> torch.Tensor:
    """Parameter-free LayerNorm of latents ``[..., latent]``: fixes their scale (see the module doc)."""
    return F.layer_norm(z, z.shape[-1:])


class _Nets(nn.Module):
    """The four networks and the normalisation statistics (buffers, so they save with the weights).

    ``obs_shape`` is ``(obs_dim,)`` (MLP encoder/decoder) or ``(C, 64, 64)`` (CNNs; statistics unused)."""

    def __init__(self, obs_shape: tuple[int, ...], act_dim: int, cfg: WorldModelConfig) -> None:
        super().__init__()
        kw: dict[str, Any] = {"activation": nn.Mish, "norm": "before"}
        lat, hid = cfg.latent_dim, cfg.hidden
        self.pixels = len(obs_shape) == 3
        obs_dim = 1 if self.pixels else obs_shape[0]
        if self.pixels:
            depth = cfg.cnn_depth
            self.encoder = nn.Sequential(conv_encoder(obs_shape[0], depth), nn.Linear(32 * depth, lat))
            self.decoder = conv_decoder(lat, obs_shape[0], depth)
        else:
            self.encoder = mlp(obs_dim, hid, lat, **kw)
            self.decoder = mlp(lat, hid, obs_dim, **kw)
        self.dynamics = ensemble_mlp(cfg.n_heads, lat + act_dim, hid, lat, **kw)
        self.termination = mlp(lat, hid, 1, **kw)
        # built last and only when used, so models without it keep their initialisation and checkpoints
        self.inverse = mlp(2 * lat, hid, act_dim, **kw) if cfg.inverse > 0 else None
        self.obs_ndim = len(obs_shape)
        for name, size in (
            ("obs_mean", obs_dim),
            ("obs_std", obs_dim),
            ("act_mean", act_dim),
            ("act_std", act_dim),
        ):
            self.register_buffer(name, torch.zeros(size) if "mean" in name else torch.ones(size))

    def normalize(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations ``[..., *obs_shape]`` (float, or uint8 frames) -> the networks' scale."""
        return obs.float() / 255.0 - 0.5 if self.pixels else (obs - self.obs_mean) / self.obs_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """The networks' scale -> raw observations (frames as float in ``[0, 255]``)."""
        return ((x + 0.5) * 255.0).clamp(0.0, 255.0) if self.pixels else x * self.obs_std + self.obs_mean

    def encode(self, obs: torch.Tensor, net: nn.Module | None = None) -> torch.Tensor:
        """Normalised observations ``[..., *obs_shape]`` -> unit latents ``[..., L]`` (``net``: the target)."""
        net = self.encoder if net is None else net
        lead = obs.shape[: obs.ndim - self.obs_ndim]
        return _unit(net(obs.reshape(-1, *obs.shape[len(lead) :])).reshape(*lead, -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``[..., L]`` -> normalised observations ``[..., *obs_shape]``."""
        out = self.decoder(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], *out.shape[1:])

    def sq_error(self, pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """Squared error averaged over the observation dims: ``[..., *obs_shape]`` -> ``[...]``."""
        return (pred - obs).pow(2).flatten(-self.obs_ndim).mean(-1)

    def recon_error(self, pred: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
        """The reconstruction loss ``[...]``: :meth:`sq_error`, summed over a frame's pixels for images
        (DreamerV2's unit-variance Gaussian): averaged, a thin pendulum rod's error is so small against
        the consistency term that the encoder collapses to one latent (docs/world_models.md, "Pixels")."""
        err = self.sq_error(pred, obs)
        return err * math.prod(obs.shape[-2:]) if self.pixels else err

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``z [B, L]`` (shared) or ``[K, B, L]`` (one per head), model actions ``[B, A]`` -> ``[K, B, L]``."""
        a = a.expand(*z.shape[:-1], a.shape[-1])
        return _unit(z + self.dynamics(torch.cat([z, a], -1)))


class _Windows:
    """All training episodes as flat arrays, sampled as windows ``o_t .. o_t+H`` that may run past the end
    of an episode (those steps are masked), so episodes shorter than ``H`` still train the model."""

    def __init__(self, obs: list[np.ndarray], acts: list[np.ndarray], terminated: list[bool]) -> None:
        self.obs = np.concatenate(obs)
        # each episode's action rows, plus a zero row at its last observation (never used: masked)
        self.acts = np.concatenate([np.concatenate([a, np.zeros_like(a[:1])]) for a in acts])
        ends = np.cumsum([len(o) for o in obs])  # one past each episode's last flat index
        self.last = np.concatenate([np.full(len(o), end - 1) for o, end in zip(obs, ends, strict=True)])
        self.term = np.zeros(len(self.obs), np.float32)
        self.term[ends[np.asarray(terminated, bool)] - 1] = 1.0  # time-outs are not terminations
        self.starts = np.flatnonzero(np.arange(len(self.obs)) < self.last)  # states with a successor

    def sample(self, rng: np.random.Generator, size: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices ``[size, H+1]`` of the windows (clamped at episode ends) and their validity mask."""
        idx = self.starts[rng.integers(0, len(self.starts), size)]
        pos = idx[:, None] + np.arange(horizon + 1)
        last = self.last[idx][:, None]
        return np.minimum(pos, last), pos <= last


class WorldModel:
    """Deterministic latent world model: ``encode``, ``next``, ``decode``, ``terminated``, ``uncertainty``.

    Parameters
    ----------
    obs_key : str or None
        Key of dict observations to model (default ``"observation"``).
    config : WorldModelConfig or None
        Hyperparameters; keyword overrides (``latent_dim=8``, ``hidden=(32, 32)``, ...) are accepted too.
    seed : int
        Seeds the initialisation, the held-out split and the batch sampling: same seed, same weights.
    device : str, torch.device or None
        Torch device for training and inference (None: the CPU).

    Observation and action spaces are read from the data at the first :meth:`fit`: observations are flat
    vectors ``[obs_dim]`` or uint8 frames ``[C, 64, 64]`` (channels first: a pixel model, with CNNs;
    :func:`~sb3_ot.data.render_pixel_trajectories` and :class:`~sb3_ot.data.PixelObservationWrapper`
    make them); actions are Box ``[act_dim]`` or Discrete (1-D integer actions, one-hot of size
    ``max + 1``). All methods take and return torch tensors on :attr:`device` (numpy in gives numpy out).
    """

    def __init__(
        self,
        *,
        obs_key: str | None = None,
        config: WorldModelConfig | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> None:
        self.config = with_overrides(config or WorldModelConfig(), overrides, "WorldModel")
        self.obs_key = obs_key
        self.seed = check_int(seed, "seed", "WorldModel", minimum=0)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.obs_shape: tuple[int, ...] | None = None  # (obs_dim,) or (C, 64, 64)
        self.act_kind: str | None = None  # "box" or "discrete"
        self.act_size: int | None = None  # act_dim (box) or number of actions (discrete)
        self.nets: _Nets | None = None
        self.target: nn.Module | None = None
        self.n_updates = 0
        self.history: list[dict[str, float]] = []
        self.heldout_indices: list[int] = []
        self._heldout: list[Trajectory] = []

    # --------------------------------------------------------------- building and data
    @property
    def obs_dim(self) -> int | None:
        """Width of vector observations (None for a pixel model, or before :meth:`fit`)."""
        return self.obs_shape[0] if self.obs_shape is not None and len(self.obs_shape) == 1 else None

    @property
    def pixels(self) -> bool:
        """Whether the model takes image observations ``[C, 64, 64]`` (known after :meth:`fit`)."""
        return self.obs_shape is not None and len(self.obs_shape) == 3

    @property
    def act_dim(self) -> int:
        """Size of the action input of the dynamics (``act_dim``, or the number of Discrete actions)."""
        self._require_fit("WorldModel.act_dim")
        assert self.act_size is not None
        return self.act_size

    def _require_fit(self, func: str) -> _Nets:
        if self.nets is None:
            raise ValueError(f"{func}: the world model is not trained yet; call fit() first")
        return self.nets

    def _build(self, obs_shape: tuple[int, ...], act_kind: str, act_size: int) -> None:
        self.obs_shape, self.act_kind, self.act_size = tuple(obs_shape), act_kind, act_size
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
            torch.manual_seed(self.seed)
            self.nets = _Nets(self.obs_shape, act_size, self.config).to(self.device)
        self.target = copy.deepcopy(self.nets.encoder)
        self.target.requires_grad_(False)
        self._opt = torch.optim.Adam(self.nets.parameters(), lr=self.config.lr)

    def _episodes(self, data: Any, func: str) -> tuple[list[Trajectory], list[np.ndarray], list[np.ndarray]]:
        """Trajectories of ``data`` with their observations ``[T+1, obs_dim]`` and actions ``[T, ...]``."""
        trajs = as_trajectories(data, func=func, obs_key=self.obs_key, name="data")
        if not trajs:
            raise ValueError(f"{func}: data must hold at least one episode; got none")
        for i, t in enumerate(trajs):
            if t.acts is None:
                raise ValueError(
                    f"{func}: data[{i}] has no actions (observation-only); a world model learns from "
                    "(observation, action, next observation) and needs every episode's actions"
                )
        return trajs, self.observation_arrays(trajs, func), [np.asarray(t.acts) for t in trajs]

    def observation_arrays(self, trajectories: Sequence[Trajectory], func: str) -> list[np.ndarray]:
        """Each trajectory's observations as the model takes them: float32 ``[T+1, obs_dim]``, or uint8
        frames ``[T+1, C, 64, 64]`` (what a fitted model is, else what the first trajectory holds).
        A pixel model given state vectors, a state model given frames, channels-last or resized frames
        are refused naming ``func``."""
        first = trajectories[0].observations(self.obs_key if trajectories[0].is_dict_obs else None)
        if not (self.pixels if self.obs_shape is not None else first.ndim == 4):
            if first.ndim > 2:
                raise ValueError(
                    f"{func}: observations are images {first.shape[1:]}; this world model was fitted on state "
                    f"vectors [obs_dim] (fit a new WorldModel on the frames for a pixel model)"
                )
            return stack_observations(trajectories, self.obs_key, func)
        channels = self.obs_shape[0] if self.obs_shape is not None else first.shape[1]
        out = []
        for i, t in enumerate(trajectories):
            obs = t.observations(self.obs_key if t.is_dict_obs else None)
            image_tensor(obs[:1], channels, f"trajectories[{i}] observations", func)  # checks only
            out.append(np.asarray(obs))
        return out

    def _action_spec(self, acts: list[np.ndarray], func: str) -> tuple[str, int]:
        """``("discrete", n)`` for 1-D integer actions, ``("box", act_dim)`` for float ``[T, act_dim]``."""
        discrete = [a.ndim == 1 and np.issubdtype(a.dtype, np.integer) for a in acts]
        if any(discrete) and not all(discrete):
            i = discrete.index(not discrete[0])
            raise ValueError(
                f"{func}: data[{i}] actions {acts[i].dtype}{acts[i].shape} differ in kind from data[0]'s"
            )
        if all(discrete):
            low = min(int(a.min()) for a in acts)
            if low < 0:
                raise ValueError(f"{func}: Discrete actions must be >= 0; got {low}")
            return "discrete", max(int(a.max()) for a in acts) + 1
        sizes = [int(np.prod(a.shape[1:])) for a in acts]
        if len(set(sizes)) != 1:
            raise ValueError(
                f"{func}: actions must have one size; got act_dim {sizes[0]} and {sorted(set(sizes))}"
            )
        return "box", sizes[0]

    def _model_actions(self, a: np.ndarray) -> np.ndarray:
        """Raw actions ``[T, ...]`` as the dynamics' float32 input ``[T, act_size]`` (one-hot, unscaled)."""
        assert self.act_size is not None
        if self.act_kind == "discrete":
            return np.eye(self.act_size, dtype=np.float32)[a]
        return np.asarray(a, np.float32).reshape(len(a), -1)

    def _split(self, n: int) -> np.ndarray:
        """Indices of the held-out episodes: ``round(holdout * n)`` of them, at least 1 (if ``n >= 2``)."""
        if self.config.holdout == 0 or n < 2:
            return np.zeros(0, np.int64)
        k = min(n - 1, max(1, round(self.config.holdout * n)))
        return np.sort(np.random.default_rng([self.seed, 13]).permutation(n)[:k])

    def _set_stats(self, obs: np.ndarray | None, acts: np.ndarray) -> None:
        """Standardisation statistics from the training data (stds floored at ``min_std``); ``obs`` None
        for a pixel model (frames are scaled, not standardised)."""
        nets, floor = self.nets, self.config.min_std
        assert nets is not None
        for name, x in (("act", acts),) if obs is None else (("obs", obs), ("act", acts)):
            getattr(nets, f"{name}_mean").copy_(torch.from_numpy(x.mean(0)))
            getattr(nets, f"{name}_std").copy_(torch.from_numpy(np.maximum(x.std(0), floor)))
        if self.act_kind == "discrete":  # one-hot inputs stay as they are
            nets.act_mean.zero_()
            nets.act_std.fill_(1.0)

    def _prepare(self, data: Any, func: str) -> _Windows:
        """Check ``data``, build the networks at the first call, split off the held-out episodes."""
        trajs, obs, acts = self._episodes(data, func)
        kind, size = self._action_spec(acts, func)
        if self.nets is None:
            self._build(obs[0].shape[1:], kind, size)
        elif (obs[0].shape[1:], kind) != (self.obs_shape, self.act_kind) or (
            size > self.act_dim if kind == "discrete" else size != self.act_dim
        ):
            raise ValueError(
                f"{func}: data has {_obs_text(obs[0].shape[1:])} and {kind} actions of size {size}; the model was "
                f"fitted on {_obs_text(self.obs_shape)} and {self.act_kind} actions of size {self.act_size}"
            )
        held = self._split(len(trajs))
        self.heldout_indices = [int(i) for i in held]
        self._heldout = [trajs[i] for i in held]
        train = np.setdiff1d(np.arange(len(trajs)), held)
        m_acts = [self._model_actions(acts[i]) for i in train]
        if self.n_updates == 0:  # statistics are fixed at the first fit: later fits keep the same function
            train_obs = None if self.pixels else np.concatenate([obs[i] for i in train])
            self._set_stats(train_obs, np.concatenate(m_acts))
        return _Windows([obs[i] for i in train], m_acts, [trajs[i].terminated for i in train])

    # --------------------------------------------------------------- training
    def _loss(
        self, obs: torch.Tensor, acts: torch.Tensor, term: torch.Tensor, valid: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Multi-step loss of windows: normalised ``obs [B, H+1, *obs_shape]``, model actions ``acts [B, H, A]``,
        terminal flags ``term [B, H+1]`` and validity ``valid [B, H+1]`` (``valid[:, 0]`` is all True)."""
        cfg, nets = self.config, self.nets
        assert nets is not None and self.target is not None
        z_all = nets.encode(obs)  # [B, H+1, L]
        with torch.no_grad():
            target = nets.encode(obs[:, 1:], self.target)  # [B, H, L]
        recon0 = nets.recon_error(nets.decode(z_all[:, 0]), obs[:, 0]).mean()
        term_enc = _masked(_bce(nets.termination(z_all).squeeze(-1), term), valid)
        z, weights = z_all[:, 0], cfg.rho ** torch.arange(cfg.rollout, dtype=torch.float32)
        parts: list[torch.Tensor] = []  # per step: reconstruction, consistency, termination
        for t in range(cfg.rollout):
            z = nets.step(z, acts[:, t])  # [K, B, L]
            m = valid[:, t + 1]
            z_rec = _unit(z.mean(0, keepdim=True)) if nets.pixels else z  # see the module doc
            parts += [
                _masked(nets.recon_error(nets.decode(z_rec), obs[:, t + 1]).mean(0), m),
                _masked((z - target[:, t]).pow(2).mean(-1).mean(0), m),
                _masked(_bce(nets.termination(z).squeeze(-1), term[:, t + 1]).mean(0), m),
            ]
        per_step = torch.stack(parts).reshape(cfg.rollout, 3)
        recon, cons, term_pred = (weights.to(obs.device) @ per_step) / weights.sum()
        loss = (
            cfg.recon * (recon + recon0) + cfg.consistency * cons + cfg.termination * (term_pred + term_enc)
        )
        info = {
            "recon": recon.item(),
            "recon0": recon0.item(),
            "consistency": cons.item(),
            "termination": (term_pred.item() + term_enc.item()) / 2,
        }
        if nets.inverse is not None:
            inv = self._inverse_loss(z_all, acts, valid)
            loss = loss + cfg.inverse * inv
            info["inverse"] = inv.item()
        return loss, info

    def _inverse_loss(self, z_all: torch.Tensor, acts: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Inverse dynamics on encodings ``z_all [B, H+1, L]`` of the window: predict the model actions
        ``acts [B, H, A]`` (standardised Box: squared error; Discrete one-hots: cross-entropy) from
        consecutive latents, masked where ``o_t+1`` is past the episode's end."""
        nets = self.nets
        assert nets is not None and nets.inverse is not None
        pred = nets.inverse(torch.cat([z_all[:, :-1], z_all[:, 1:]], -1))  # [B, H, A]
        if self.act_kind == "discrete":
            err = F.cross_entropy(pred.flatten(0, 1), acts.argmax(-1).flatten(), reduction="none")
            err = err.reshape(acts.shape[:2])
        else:
            err = (pred - acts).pow(2).mean(-1)
        return _masked(err, valid[:, 1:])

    def fit(self, data: Any, *, n_updates: int, progress: bool = True, log_every: int = 100) -> WorldModel:
        """Train on ``data``: a local Minari id, a ``MinariDataset`` or a list of :class:`Trajectory` with
        actions. Returns ``self``.

        A fraction ``config.holdout`` of the episodes (at least one when there are two or more) is held
        out; their indices are :attr:`heldout_indices` and :meth:`prediction_error` uses them by default.
        Calling ``fit`` again continues training (the normalisation statistics of the first call are
        kept). :attr:`history` gets the losses every ``log_every`` updates.

        Raises
        ------
        ValueError
            For empty data, episodes without actions, mismatched observation sizes, data unlike a
            previous ``fit``'s, or a non-positive ``n_updates`` / ``log_every``.
        """
        func = "WorldModel.fit"
        n_updates = check_int(n_updates, "n_updates", func)
        log_every = check_int(log_every, "log_every", func)
        windows = self._prepare(data, func)
        nets, cfg = self.nets, self.config
        assert nets is not None and self.target is not None
        to = {"device": self.device}
        raw = torch.from_numpy(windows.obs).to(**to)
        obs = raw if nets.pixels else nets.normalize(raw)  # frames stay uint8 (4x less memory) until batched
        acts = (torch.from_numpy(windows.acts).to(**to) - nets.act_mean) / nets.act_std
        term = torch.from_numpy(windows.term).to(**to)
        rng = np.random.default_rng([self.seed, self.n_updates])  # continuing a loaded model = the live one
        nets.train()
        for step in tqdm(range(n_updates), desc="WorldModel", disable=not progress, unit="update"):
            pos, valid = (
                torch.from_numpy(x).to(**to) for x in windows.sample(rng, cfg.batch_size, cfg.rollout)
            )
            batch = nets.normalize(obs[pos]) if nets.pixels else obs[pos]
            loss, info = self._loss(batch, acts[pos[:, :-1]], term[pos], valid)
            self._opt.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(nets.parameters(), cfg.grad_clip)
            self._opt.step()
            polyak_update(nets.encoder, self.target, cfg.tau)
            self.n_updates += 1
            if step % log_every == 0 or step == n_updates - 1:
                self.history.append(
                    {"update": self.n_updates, "loss": loss.item(), "grad_norm": grad_norm.item()} | info
                )
        nets.eval()
        return self

    # --------------------------------------------------------------- the model's surface
    def _tensor(self, x: Any, name: str, func: str, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """``x`` as a finite float32 tensor on the device, whose trailing dims are ``shape``."""
        return as_float_tensor(x, name, func, shape, self.device)

    _out = staticmethod(like_input)

    @torch.no_grad()
    def encode(self, obs: Any) -> Any:
        """Latents ``z [..., latent_dim]`` of raw observations ``obs [..., obs_dim]`` (a pixel model: uint8
        frames ``[..., C, 64, 64]``; channels-last frames, another size or state vectors are refused)."""
        func = "WorldModel.encode"
        nets = self._require_fit(func)
        assert self.obs_shape is not None
        if self.pixels:
            x = image_tensor(obs, self.obs_shape[0], "obs", func).to(self.device)
            return self._out(nets.encode(x), obs)
        x = self._tensor(obs, "obs", func, self.obs_shape)
        return self._out(nets.encode(nets.normalize(x)), obs)

    def latent_trajectories(self, trajectories: Any) -> list[Trajectory]:
        """The trajectories with each observation replaced by its latent: ``obs [T+1, latent_dim]``
        (float32); actions, rewards, termination and infos kept. What D-BC (behaviour cloning on the
        model's expert latents, DITTO's baseline) trains on; deploy its policy through
        :class:`~sb3_ot.world_models.LatentObservationWrapper`."""
        func = "WorldModel.latent_trajectories"
        self._require_fit(func)
        trajs = as_trajectories(trajectories, func=func, obs_key=self.obs_key)
        observations = self.observation_arrays(trajs, func)
        return [
            Trajectory(self.encode(o), t.acts, t.rews, terminated=t.terminated, infos=t.infos)
            for t, o in zip(trajs, observations, strict=True)
        ]

    @torch.no_grad()
    def decode(self, z: Any) -> Any:
        """Raw observations ``[..., obs_dim]`` of latents ``z [..., latent_dim]`` (a pixel model: frames
        ``[..., C, 64, 64]`` as float32 in ``[0, 255]``)."""
        nets = self._require_fit("WorldModel.decode")
        x = self._tensor(z, "z", "WorldModel.decode", (self.config.latent_dim,))
        return self._out(nets.denormalize(nets.decode(x)), z)

    @torch.no_grad()
    def terminated(self, z: Any) -> Any:
        """Probability ``[...]`` that the state of latent ``z [..., latent_dim]`` is terminal."""
        nets = self._require_fit("WorldModel.terminated")
        x = self._tensor(z, "z", "WorldModel.terminated", (self.config.latent_dim,))
        return self._out(torch.sigmoid(nets.termination(x).squeeze(-1)), z)

    def _actions(self, a: Any, lead: tuple[int, ...], func: str) -> torch.Tensor:
        """Raw actions for latents with leading shape ``lead`` as the dynamics' input ``[..., act_size]``."""
        nets = self._require_fit(func)
        assert self.act_size is not None
        if self.act_kind == "box":
            x = self._tensor(a, "a", func)
            if tuple(x.shape) != (*lead, self.act_size):
                raise ValueError(
                    f"{func}: a must have shape {[*lead, self.act_size]} (z's leading dims + act_dim); got {list(x.shape)}"
                )
            return (x - nets.act_mean) / nets.act_std
        t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.array(a))
        if t.dtype.is_floating_point or t.dtype == torch.bool or tuple(t.shape) != lead:
            raise ValueError(
                f"{func}: a must be integer Discrete actions of shape {list(lead)} (z's leading dims); "
                f"got dtype {t.dtype}, shape {list(t.shape)}"
            )
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.act_size):
            raise ValueError(
                f"{func}: a must hold Discrete actions in [0, {self.act_size - 1}]; got values in "
                f"[{int(t.min())}, {int(t.max())}]"
            )
        return F.one_hot(t.to(self.device).long(), self.act_size).float()

    def _heads(self, z: Any, a: Any, func: str) -> torch.Tensor:
        """Every head's next latent ``[K, ..., latent_dim]`` for ``z [..., latent_dim]`` and actions ``a``."""
        nets = self._require_fit(func)
        x = self._tensor(z, "z", func, (self.config.latent_dim,))
        act = self._actions(a, tuple(x.shape[:-1]), func)
        lead = x.shape[:-1]
        out = nets.step(x.reshape(-1, x.shape[-1]), act.reshape(-1, act.shape[-1]))
        return out.reshape(out.shape[0], *lead, out.shape[-1])

    @torch.no_grad()
    def next(self, z: Any, a: Any, head: Head = "mean", *, generator: torch.Generator | None = None) -> Any:
        """Next latents ``[..., latent_dim]`` of ``z [..., latent_dim]`` after raw actions ``a`` (Box
        ``[..., act_dim]``; Discrete: integers ``[...]``).

        ``head``: ``"mean"`` (the heads' mean, layer-normalised again), an int (that head) or ``"random"``
        (a random head per row, drawn from ``generator`` or torch's global generator).
        """
        func, k = "WorldModel.next", self.config.n_heads
        heads = self._heads(z, a, func)
        if head == "mean":
            return self._out(_unit(heads.mean(0)), z)
        if head == "random":
            gen_device = generator.device if generator is not None else torch.device("cpu")
            pick = torch.randint(k, heads.shape[1:-1], generator=generator, device=gen_device).to(self.device)
            return self._out(
                heads.gather(0, pick.expand(1, *pick.shape).unsqueeze(-1).expand(1, *heads.shape[1:]))[0], z
            )
        if isinstance(head, numbers.Integral) and not isinstance(head, bool) and 0 <= head < k:
            return self._out(heads[int(head)], z)
        raise ValueError(f"{func}: head must be 'mean', 'random' or an int in [0, {k - 1}]; got {head!r}")

    @torch.no_grad()
    def uncertainty(self, z: Any, a: Any) -> Any:
        """Disagreement ``[...]``: the std across heads of the next latents, averaged over latent dims
        (CMIL's ``u``; population std, as ``tf.math.reduce_std``)."""
        heads = self._heads(z, a, "WorldModel.uncertainty")
        return self._out(heads.std(0, correction=0).mean(-1), z)

    # --------------------------------------------------------------- evaluation
    def prediction_error(
        self, trajectories: Any = None, ks: Sequence[int] = (1, 5, 15)
    ) -> dict[int, dict[str, float]]:
        """Open-loop ``k``-step prediction error in observation space, beside repeating the last observation
        (a pixel model's in pixel values 0..255).

        For every ``t`` with ``t + k <= T``: encode ``o_t``, roll ``k`` steps with the true actions
        (``head="mean"``), decode, and take the squared error against ``o_{t+k}`` averaged over
        observation dims; the baseline predicts ``o_t``. Returns ``{k: {"model", "repeat_last", "pairs"}}``
        (means over all pairs; NaN where no episode is longer than ``k``). ``trajectories`` defaults to
        the episodes the last :meth:`fit` held out.
        """
        func = "WorldModel.prediction_error"
        self._require_fit(func)
        ks = sorted({check_int(k, "ks", func) for k in ks})
        if trajectories is None:
            if not self._heldout:
                raise ValueError(
                    f"{func}: no held-out episodes in memory (loaded model, or holdout=0); pass trajectories"
                )
            trajectories = self._heldout
        _, obs, acts = self._episodes(trajectories, func)
        sums = {k: np.zeros(3) for k in ks}  # model error, baseline error, pairs
        for o, a in zip(obs, acts, strict=True):
            self._episode_errors(o, a, ks, sums)
        return {
            k: {
                "model": s[0] / s[2] if s[2] else math.nan,
                "repeat_last": s[1] / s[2] if s[2] else math.nan,
                "pairs": int(s[2]),
            }
            for k, s in sums.items()
        }

    @torch.no_grad()
    def _episode_errors(
        self, obs: np.ndarray, acts: np.ndarray, ks: list[int], sums: dict[int, np.ndarray]
    ) -> None:
        """Add one episode's summed k-step errors to ``sums`` (rolls from every start at once)."""
        n = len(acts)
        nets = self._require_fit("WorldModel.prediction_error")
        o = torch.tensor(obs, device=self.device)
        z = self.encode(o[:-1])  # one rollout from every t = 0 .. T-1
        o = o.float()
        for j in range(1, min(max(ks), n) + 1):
            rows = n - j + 1  # rollouts with t + j <= T
            z = self.next(z[:rows], self._action_rows(acts, j - 1, rows))
            if j in sums:
                pred, truth, last = self.decode(z), o[j : j + rows], o[:rows]
                sums[j] += [
                    nets.sq_error(pred, truth).sum().item(),
                    nets.sq_error(last, truth).sum().item(),
                    rows,
                ]

    def _action_rows(self, acts: np.ndarray, offset: int, rows: int) -> torch.Tensor:
        """Actions ``acts[t + offset]`` for ``t = 0 .. rows-1`` as a tensor (raw, as ``next`` takes them)."""
        a = torch.tensor(np.asarray(acts[offset : offset + rows]))
        return a if self.act_kind == "discrete" else a.reshape(rows, -1)

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model (weights, target encoder, optimizer, statistics, history) to ``path``, atomically."""
        nets = self._require_fit("WorldModel.save")
        assert self.target is not None
        return save_checkpoint(
            path,
            {
                "format": _FORMAT,
                "version": _VERSION,
                "config": asdict(self.config),
                "seed": self.seed,
                "obs_key": self.obs_key,
                "obs_dim": self.obs_dim,
                "obs_shape": list(self.obs_shape or ()),
                "act_kind": self.act_kind,
                "act_size": self.act_size,
                "nets": nets.state_dict(),
                "target": self.target.state_dict(),
                "opt": self._opt.state_dict(),
                "n_updates": self.n_updates,
                "history": self.history,
                "heldout_indices": self.heldout_indices,
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device | None = None) -> WorldModel:
        """Load a model written by :meth:`save` onto ``device`` (None: the CPU); training can continue."""
        func = "WorldModel.load"
        state = load_checkpoint(path, func=func, what="world-model file")
        if state.get("format") != _FORMAT:
            what = (
                f"a {state['kind']!r} encoder" if "kind" in state else f"keys {sorted(map(str, state))[:6]}"
            )
            raise ValueError(f"{func}: {str(path)!r} is not a world-model checkpoint (it holds {what})")
        if state.get("version") != _VERSION:
            raise ValueError(
                f"{func}: {str(path)!r} has world-model format version {state.get('version')!r}; this sb3-ot reads {_VERSION}"
            )
        try:
            cfg = WorldModelConfig(**{**state["config"], "hidden": tuple(state["config"]["hidden"])})
            model = cls(obs_key=state["obs_key"], config=cfg, seed=state["seed"], device=device)
            shape = state.get("obs_shape") or [state["obs_dim"]]  # files from before pixel models
            model._build(tuple(int(d) for d in shape), state["act_kind"], state["act_size"])
            assert model.nets is not None and model.target is not None
            model.nets.load_state_dict(state["nets"])
            model.target.load_state_dict(state["target"])
            model._opt.load_state_dict(state["opt"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(
                f"{func}: {str(path)!r} holds an incomplete or inconsistent world model ({err!r})"
            ) from None
        model.n_updates, model.history = int(state["n_updates"]), list(state["history"])
        model.heldout_indices = list(state["heldout_indices"])
        model.nets.eval()
        return model

    def __repr__(self) -> str:
        c = self.config
        return (
            f"WorldModel(obs_shape={self.obs_shape}, {self.act_kind} actions of size {self.act_size}, "
            f"latent_dim={c.latent_dim}, n_heads={c.n_heads}, n_updates={self.n_updates})"
        )


def _obs_text(shape: tuple[int, ...] | None) -> str:
    """``obs_dim 3`` for vector observations, ``frames (3, 64, 64)`` for pixels (error messages)."""
    return f"obs_dim {shape[0]}" if shape is not None and len(shape) == 1 else f"frames {shape}"


def _masked(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x [B, ...]`` over the entries where ``mask`` (broadcast like ``x``) is True."""
    m = mask.to(x.dtype).expand_as(x)
    return (x * m).sum() / m.sum().clamp(min=1.0)


def _bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Elementwise binary cross-entropy; ``labels`` broadcast against ``logits`` (e.g. over heads)."""
    return F.binary_cross_entropy_with_logits(logits, labels.expand_as(logits), reduction="none")

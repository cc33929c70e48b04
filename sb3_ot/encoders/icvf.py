"""ICVF intents (Ghosh et al. 2023), the state representation AILOT computes its OT cost in.

The intention-conditioned value function ``V(s, s+, z) = phi(s)^T T(psi(z)) psi(s+)`` estimates how
soon ``s+`` is reached from ``s`` when acting to reach ``z``. Following the official code
(``dibyaghosh/icvf_release``, ``MultilinearVF``): ``phi``, ``psi`` and ``T`` are MLPs with GELU and
LayerNorm after every layer; ``T(psi(z))`` is a low-rank matrix, ``V = <A (T * phi), B (T * psi)>``
with learned ``A``, ``B``; two such value functions form an ensemble. Training is the ICVF TD loss:

* reward ``r = 1(s == s+) - 1``, mask ``m = 1 - 1(s == s+)``, target
  ``q = r + gamma * m * V'(s', s+, z)`` (``V'`` the Polyak-averaged target network);
* advantage of the step under intent ``z``: ``adv = r_z + gamma * m_z * min V'(s', z, z) - mean V'(s, z, z)``;
* expectile regression of ``V(s, s+, z)`` towards ``q`` with weight ``expectile`` where ``adv >= 0``, else
  ``1 - expectile``, summed over the ensemble.

``z`` and ``s+`` are each drawn as a random dataset state (0.3), a future state of the same trajectory
(0.5) or the current state (0.2); ``s+ = z`` with probability 0.5. :meth:`ICVFEncoder.encode` returns
``psi(obs)`` of the first ensemble member (``dim = latent_dim``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from sb3_ot._args import check_float, check_int, check_widths, with_overrides
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.encoders.base import Encoder, as_device, stack_observations
from sb3_ot.nn import mlp, polyak_update

__all__ = ["ICVFConfig", "ICVFEncoder"]


@dataclass(frozen=True)
class ICVFConfig:
    """ICVF hyperparameters (defaults: the DESIGN card's, from the official code)."""

    hidden_dims: tuple[int, ...] = (256, 256)  # the last is the latent size d
    ensemble: int = 2
    expectile: float = 0.9
    discount: float = 0.99
    tau: float = 0.005
    lr: float = 3e-4
    batch_size: int = 256
    p_random: float = 0.3
    p_traj: float = 0.5
    p_current: float = 0.2
    p_same: float = 0.5

    def __post_init__(self) -> None:
        func = "ICVFConfig"
        object.__setattr__(self, "hidden_dims", check_widths(self.hidden_dims, "hidden_dims", func))
        object.__setattr__(self, "ensemble", check_int(self.ensemble, "ensemble", func))
        object.__setattr__(self, "batch_size", check_int(self.batch_size, "batch_size", func))
        check_float(self.expectile, "expectile", func, low=0.0, high=1.0 - 1e-12)
        for name in ("discount", "tau", "p_random", "p_traj", "p_current", "p_same"):
            check_float(getattr(self, name), name, func, low=0.0, high=1.0, low_open=False)
        check_float(self.lr, "lr", func)
        if abs(self.p_random + self.p_traj + self.p_current - 1.0) > 1e-6:
            raise ValueError(
                f"{func}: p_random + p_traj + p_current must be 1; got "
                f"{self.p_random} + {self.p_traj} + {self.p_current}"
            )


class _MultilinearVF(nn.Module):
    def __init__(self, obs_dim: int, dims: Sequence[int]) -> None:
        super().__init__()
        d = dims[-1]
        self.phi, self.psi, self.T = mlp(obs_dim, dims), mlp(obs_dim, dims), mlp(d, dims)
        self.A, self.B = nn.Linear(d, d), nn.Linear(d, d)

    def combine(self, phi: torch.Tensor, psi: torch.Tensor, tz: torch.Tensor) -> torch.Tensor:
        """``V = <A (T(z) * phi(s)), B (T(z) * psi(s+))>`` from the three embeddings."""
        return (self.A(tz * phi) * self.B(tz * psi)).sum(-1)

    def forward(self, s: torch.Tensor, g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        psi_g, psi_z = self.psi(torch.cat([g, z])).chunk(2)
        return self.combine(self.phi(s), psi_g, self.T(psi_z))

    def td_targets(
        self, s: torch.Tensor, s_next: torch.Tensor, g: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``V(s', s+, z)``, ``V(s', z, z)`` and ``V(s, z, z)``, sharing every embedding."""
        phi_s, phi_next = self.phi(torch.cat([s, s_next])).chunk(2)
        psi_g, psi_z = self.psi(torch.cat([g, z])).chunk(2)
        tz = self.T(psi_z)
        return (
            self.combine(phi_next, psi_g, tz),
            self.combine(phi_next, psi_z, tz),
            self.combine(phi_s, psi_z, tz),
        )


class _Ensemble(nn.Module):
    def __init__(self, obs_dim: int, cfg: ICVFConfig) -> None:
        super().__init__()
        self.members = nn.ModuleList(_MultilinearVF(obs_dim, cfg.hidden_dims) for _ in range(cfg.ensemble))

    def forward(self, s: torch.Tensor, g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(s, g, z) for m in self.members])  # [E, B]

    def td_targets(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = [m.td_targets(*args) for m in self.members]
        return tuple(torch.stack(p) for p in zip(*parts, strict=True))  # each [E, B]


class _GoalSampler:
    """Flat states of all trajectories with, for each, the index of its trajectory's last state."""

    def __init__(self, observations: list[np.ndarray], cfg: ICVFConfig, rng: np.random.Generator) -> None:
        self.states = np.concatenate(observations)
        ends, starts, offset = [], [], 0
        for obs in observations:
            n = len(obs)
            ends.append(np.full(n, offset + n - 1))
            starts.append(np.arange(offset, offset + n - 1))  # states with a successor
            offset += n
        self.end = np.concatenate(ends)
        self.valid = np.concatenate(starts)
        self.cfg, self.rng = cfg, rng

    def goals(self, idx: np.ndarray) -> np.ndarray:
        cfg, rng, n = self.cfg, self.rng, len(idx)
        random = rng.integers(0, len(self.states), n)
        u = rng.random(n)
        future = np.round(idx * u + self.end[idx] * (1 - u)).astype(np.int64)
        out = np.where(rng.random(n) < cfg.p_traj / (1.0 - cfg.p_current), future, random)
        return np.where(rng.random(n) < cfg.p_current, idx, out)

    def batch(self, size: int) -> dict[str, np.ndarray]:
        idx = self.valid[self.rng.integers(0, len(self.valid), size)]
        z = self.goals(idx)
        g = np.where(self.rng.random(size) < self.cfg.p_same, z, self.goals(idx))
        return {"s": idx, "s_next": idx + 1, "g": g, "z": z}


class ICVFEncoder(Encoder):
    """ICVF intent encoder: ``encode(obs [..., obs_dim]) -> psi(obs) [..., latent_dim]``.

    Parameters
    ----------
    obs_key : str or None
        Key of dict observations to use (default ``"observation"``).
    config : ICVFConfig or None
        Hyperparameters; keyword overrides (``hidden_dims=(64, 64)``, ``lr=...``) are accepted too.
    seed : int
        Seeds the network initialisation and the batch sampling.
    device : str, torch.device or None
        Torch device for training and encoding (None: the CPU).
    """

    kind = "icvf"

    def __init__(
        self,
        *,
        obs_key: str | None = None,
        config: ICVFConfig | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> None:
        cfg = with_overrides(config or ICVFConfig(), overrides, "ICVFEncoder")
        self.config, self.obs_key = cfg, obs_key
        self.seed = check_int(seed, "seed", "ICVFEncoder", minimum=0)
        self.device: torch.device = as_device(device) or torch.device("cpu")
        self.obs_dim: int | None = None
        self.net: _Ensemble | None = None
        self.target: _Ensemble | None = None
        self.n_updates = 0
        self.history: list[dict[str, float]] = []

    @property
    def dim(self) -> int:
        return int(self.config.hidden_dims[-1])

    def _build(self, obs_dim: int) -> None:
        torch.manual_seed(self.seed)
        self.obs_dim = obs_dim
        self.net = _Ensemble(obs_dim, self.config).to(self.device)
        self.target = _Ensemble(obs_dim, self.config).to(self.device)
        self.target.load_state_dict(self.net.state_dict())
        self.target.requires_grad_(False)
        self._opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)

    def _loss(
        self, states: torch.Tensor, b: dict[str, torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        s, s_next, g, z = states[b["s"]], states[b["s_next"]], states[b["g"]], states[b["z"]]
        hit_g, hit_z = (b["s"] == b["g"]).float(), (b["s"] == b["z"]).float()
        r_g, m_g, r_z, m_z = hit_g - 1.0, 1.0 - hit_g, hit_z - 1.0, 1.0 - hit_z
        with torch.no_grad():
            next_v_gz, next_v_zz, v_zz = self.target.td_targets(s, s_next, g, z)  # each [E, B]
            q_gz = r_g + cfg.discount * m_g * next_v_gz
            adv = r_z + cfg.discount * m_z * next_v_zz.min(0).values - v_zz.mean(0)
        v_gz = self.net(s, g, z)
        weight = torch.where(adv >= 0, cfg.expectile, 1.0 - cfg.expectile)
        loss = (weight * (q_gz - v_gz) ** 2).mean(-1).sum()
        return loss, {"v_gz": v_gz.detach().mean(), "accept": (adv >= 0).float().mean()}

    def fit(
        self,
        trajectories: Iterable[Trajectory],
        *,
        n_updates: int = 10_000,
        progress: bool = True,
        log_every: int = 100,
    ) -> ICVFEncoder:
        """Train on the observations of ``trajectories`` (actions and rewards are not used).

        Calling ``fit`` again continues training (on the new trajectories). ``history`` records the
        loss, mean value and advantage acceptance rate every ``log_every`` updates.

        Raises
        ------
        ValueError
            For no trajectories, non-flat observations, mismatched obs sizes, or a different obs size
            than a previous ``fit``.
        """
        n_updates = check_int(n_updates, "n_updates", "ICVFEncoder.fit")
        log_every = check_int(log_every, "log_every", "ICVFEncoder.fit")
        observations = stack_observations(trajectories, self.obs_key, "ICVFEncoder.fit")
        obs_dim = observations[0].shape[1]
        if self.net is None:
            self._build(obs_dim)
        elif obs_dim != self.obs_dim:
            raise ValueError(
                f"ICVFEncoder.fit: observations have obs_dim {obs_dim}; the encoder was fitted on {self.obs_dim}"
            )
        assert self.net is not None and self.target is not None
        rng = np.random.default_rng([self.seed, self.n_updates])
        sampler = _GoalSampler(observations, self.config, rng)
        states = torch.from_numpy(sampler.states).to(self.device)
        self.net.train()
        for step in tqdm(range(n_updates), desc="ICVF", disable=not progress, unit="update"):
            batch = {
                k: torch.from_numpy(v).to(self.device)
                for k, v in sampler.batch(self.config.batch_size).items()
            }
            loss, info = self._loss(states, batch)
            self._opt.zero_grad(set_to_none=True)
            loss.backward()
            self._opt.step()
            polyak_update(self.net, self.target, self.config.tau)
            self.n_updates += 1
            if step % log_every == 0 or step == n_updates - 1:
                self.history.append(
                    {"update": self.n_updates, "loss": float(loss.detach())}
                    | {k: float(v) for k, v in info.items()}
                )
        self.net.eval()
        return self

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        assert self.net is not None
        return self.net.members[0].psi(x)

    @torch.no_grad()
    def value(self, s: Any, g: Any, z: Any) -> np.ndarray:
        """Ensemble-mean ``V(s, s+, z)`` for observation batches ``[N, obs_dim]`` -> ``[N]``."""
        assert self.net is not None
        s, g, z = (self._check_obs(v, "ICVFEncoder.value") for v in (s, g, z))
        return self.net(s, g, z).mean(0).cpu().numpy()

    # --------------------------------------------------------------- persistence
    def _state(self) -> dict[str, Any]:
        if self.net is None:
            raise ValueError("ICVFEncoder.save: call fit() first")
        assert self.target is not None
        return {
            "config": asdict(self.config),
            "seed": self.seed,
            "obs_key": self.obs_key,
            "obs_dim": self.obs_dim,
            "net": self.net.state_dict(),
            "target": self.target.state_dict(),
            "opt": self._opt.state_dict(),
            "n_updates": self.n_updates,
            "history": self.history,
        }

    def to(self, device: str | torch.device | None) -> ICVFEncoder:
        """Move the networks (and the optimizer's state) to ``device``; returns ``self``."""
        self.device = as_device(device) or torch.device("cpu")
        if self.net is not None and self.target is not None:
            state = self._opt.state_dict()
            self.net.to(self.device)
            self.target.to(self.device)
            self._opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
            self._opt.load_state_dict(state)  # Adam's moments follow the parameters' device
        return self

    @classmethod
    def _from_state(cls, state: dict[str, Any], device: torch.device | None) -> ICVFEncoder:
        cfg = {**state["config"], "hidden_dims": tuple(state["config"]["hidden_dims"])}
        enc = cls(obs_key=state["obs_key"], config=ICVFConfig(**cfg), seed=state["seed"], device=device)
        enc._build(state["obs_dim"])
        assert enc.net is not None and enc.target is not None
        enc.net.load_state_dict(state["net"])
        enc.target.load_state_dict(state["target"])
        enc._opt.load_state_dict(state["opt"])
        enc.n_updates, enc.history = state["n_updates"], list(state["history"])
        enc.net.eval()
        return enc

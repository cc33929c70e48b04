"""ZILOT's goal-conditioned latent model: dynamics, ``Q``, ``V(s, g)``, ``W(g1, g2)`` and ``pi(z, g)``.

Learned offline from goal-conditioned episodes with no expert (``obs["observation"]``,
``obs["achieved_goal"]``, Box actions), as the official code (martius-lab/zilot, a TD-MPC2 variant) does:

* **Networks** (TD-MPC2's blocks: ``Linear -> LayerNorm -> Mish``, SiLU at the ``cpu`` preset): an
  observation encoder and a goal encoder to SimNorm latents (softmax over groups of 8), latent dynamics
  ``f(z, a)``, an ensemble of ``Q(z, a, zg)``, a tanh-Gaussian policy ``pi(z, zg)``,
  ``V(z, zg) = phi(z) . psi(zg)`` and ``W(zg1, zg2)`` (an MLP on goal pairs).
* **Targets**: reward -1 per step, undiscounted; ``td = -1 + min of 2 random target Q heads at
  (z', pi(z'), zg)``, ``-1`` when the next state reaches the goal, ``0`` when this one does ("reaches" =
  its achieved goal equals the goal, as the official buffer tests); clamped to ``[-value_scale, 0]``
  (``value_scale`` = the env's episode length: steps beyond it cannot be told apart).
* **Losses** over an ``n_steps`` latent rollout weighted ``rho**t``: consistency of ``f`` with the encoded
  next observation (x 20), ``Q`` on the rolled-out latents, ``V`` on them (latents detached), ``W`` on the
  encoded achieved goal of the step and the goal, the policy maximising ``Q`` (its own optimizer).
* **Goal relabelling**, one goal per step of a slice: a random dataset state (0.2), the next state (0.2),
  or a geometric future state of the same episode (0.6, ``p = 1 - relabel_discount``).

``td_action="data"`` (the ``cpu`` preset's; ``paper`` keeps the official ``"policy"``) bootstraps from
the data's own next action instead of the policy's: measured in docs/zilot.md, the policy's out-of-data
action is over-estimated by about the step's -1 and stalls the values on a CPU budget.
``td_action="expectile"`` is IQL's in-sample maximum instead: ``V`` regresses the ``expectile`` of the
target ``Q`` at the data's actions, and ``Q`` bootstraps from ``-1 + V(z', zg)``, so no action outside
the data is ever evaluated.

Q and W are regressed (MSE on ``td / value_scale``, as the official ``V`` is) at ``value_bins=0`` (the
``cpu`` preset, so far), or TD-MPC2's two-hot cross-entropy over ``symlog(steps)`` as in the official
code (``value_bins=101``, the ``paper`` preset): the latter resolves short distances at a large
``value_scale`` (PointMaze, docs/zilot.md). ``value_units="log"`` (not official) fits ``V``, and the
regressed ``Q`` and ``W``, in ``-log1p(steps) / log1p(value_scale)``: its error is relative to the steps,
so ``V`` resolves a goal a few steps away even at ``value_scale`` 600. There is no reward head (the
official one is trained but unused). Sizes: :data:`PRESETS` (``paper`` = the official config, ``cpu`` =
what trains on a 2-core machine within the hour; docs/zilot.md measures both).
"""

from __future__ import annotations

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

from sb3_ot._args import check_choice, check_float, check_int, with_overrides
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.nn import as_float_tensor, ensemble_mlp, like_input, mlp, polyak_update

__all__ = ["PRESETS", "GoalModel", "GoalModelConfig"]

VALUE_UNITS = ("scale", "log")  # GoalModelConfig.value_units
TD_ACTIONS = ("policy", "data", "expectile")  # GoalModelConfig.td_action: what Q's target bootstraps from
_FORMAT = "sb3_ot.goal_model"  # the checkpoint's "format" entry; anything else is refused on load
_VERSION = 1


@dataclass(frozen=True)
class GoalModelConfig:
    """Goal-model hyperparameters (defaults: the ``cpu`` preset; ``paper``: the official config)."""

    latent_dim: int = 64
    enc_dim: int = 128
    mlp_dim: int = 256
    simnorm: int = 8
    n_q: int = 2
    n_steps: int = 3
    batch_size: int = 256
    lr: float = 3e-4
    enc_lr_scale: float = 0.3
    consistency: float = 20.0
    q_coef: float = 1.0
    rho: float = 0.5
    tau: float = 0.01
    grad_clip: float = 20.0
    entropy: float = 1e-4
    value_scale: float = 50.0
    relabel_discount: float = 0.975
    p_random: float = 0.2
    p_current: float = 0.2
    td_action: str = "data"  # in-data targets; "policy": the official target's (docs/zilot.md)
    expectile: float = 0.9  # td_action="expectile" only: IQL's tau
    activation: str = "silu"  # TD-MPC2's is "mish": the same shape, 6.5x slower on a CPU (docs/zilot.md)
    # Q and W as TD-MPC2's two-hot classification over symlog(steps) (the official 101 bins): precision
    # relative to the steps, not to value_scale; 0: regression of steps / value_scale (docs/zilot.md)
    value_bins: int = 0
    # the units V (and regressed Q and W) are fitted in: "scale", steps / value_scale (official); "log",
    # log1p(steps) / log1p(value_scale), whose error is relative to the steps (not official; docs/zilot.md)
    value_units: str = "scale"
    # W's loss: this expectile of the TD targets between two goals; 0.5, the squared error (official).
    # Above 0.5 W leans to the data's faster paths, as an expert's would be (not official; docs/zilot.md)
    w_expectile: float = 0.5

    def __post_init__(self) -> None:
        func = "GoalModelConfig"
        check_choice(self.activation, "activation", func, tuple(_ACTIVATIONS))
        check_choice(self.td_action, "td_action", func, TD_ACTIONS)
        check_choice(self.value_units, "value_units", func, VALUE_UNITS)
        for name in ("latent_dim", "enc_dim", "mlp_dim", "simnorm", "n_q", "n_steps", "batch_size"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        object.__setattr__(self, "value_bins", check_int(self.value_bins, "value_bins", func, minimum=0))
        if self.latent_dim % self.simnorm:
            raise ValueError(
                f"{func}: latent_dim must be a multiple of simnorm (the SimNorm group size); "
                f"got latent_dim {self.latent_dim}, simnorm {self.simnorm}"
            )
        if self.value_bins == 1:
            raise ValueError(f"{func}: value_bins must be 0 (regression) or >= 2; got {self.value_bins}")
        if self.n_q < 2:
            raise ValueError(f"{func}: n_q must be >= 2 (targets take the min of 2 heads); got {self.n_q}")
        for name in ("rho", "tau", "relabel_discount", "enc_lr_scale", "expectile", "w_expectile"):
            check_float(getattr(self, name), name, func, low=0.0, high=1.0)
        if self.value_bins and self.w_expectile != 0.5:
            raise ValueError(
                f"{func}: w_expectile applies to a regressed W (value_bins=0); got w_expectile "
                f"{self.w_expectile} with value_bins {self.value_bins}"
            )
        for name in ("p_random", "p_current", "consistency", "q_coef", "entropy"):
            check_float(getattr(self, name), name, func, low=0.0, low_open=False)
        if self.p_random + self.p_current > 1.0:
            raise ValueError(
                f"{func}: p_random + p_current must be <= 1; got {self.p_random + self.p_current}"
            )
        for name in ("lr", "grad_clip", "value_scale"):
            check_float(getattr(self, name), name, func)


#: Named sizes: ``paper`` is the official config (600k updates, for a GPU); ``cpu`` trains on 2 cores.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "latent_dim": 512,
        "enc_dim": 256,
        "mlp_dim": 512,
        "n_q": 5,
        "activation": "mish",
        "td_action": "policy",
        "value_bins": 101,
        "q_coef": 0.1,  # the official value_coef, for the cross-entropy
        "n_updates": 600_000,
    },
    "cpu": {
        "latent_dim": 64,
        "enc_dim": 128,
        "mlp_dim": 256,
        "n_q": 2,
        "activation": "silu",
        "td_action": "data",
        "n_updates": 40_000,
    },
}

_ACTIVATIONS = {"mish": nn.Mish, "silu": nn.SiLU}


class _SimNorm(nn.Module):
    """Softmax over groups of ``group`` latent dims (TD-MPC2): latents on a product of simplices."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (-1, self.group)).softmax(-1).flatten(-2)


_SYMLOG_MAX = 10.0  # TD-MPC2's vmin / vmax: the bins span symlog(steps) in [-10, 10]


def _symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def two_hot(steps: torch.Tensor, bins: int) -> torch.Tensor:
    """``steps [...]`` -> ``[..., bins]``: the two bins around ``symlog(steps)``, weighted by nearness."""
    pos = (_symlog(steps).clamp(-_SYMLOG_MAX, _SYMLOG_MAX) + _SYMLOG_MAX) * (bins - 1) / (2 * _SYMLOG_MAX)
    low = pos.floor().clamp(max=bins - 2)
    frac = (pos - low).unsqueeze(-1)
    out = steps.new_zeros(*steps.shape, bins)
    out.scatter_(-1, low.long().unsqueeze(-1), 1.0 - frac)
    return out.scatter_add(-1, low.long().unsqueeze(-1) + 1, frac)


def from_bins(logits: torch.Tensor) -> torch.Tensor:
    """``logits [..., bins]`` -> the expected ``steps [...]`` (symexp of the mean bin centre)."""
    centres = torch.linspace(-_SYMLOG_MAX, _SYMLOG_MAX, logits.shape[-1], device=logits.device)
    x = (logits.softmax(-1) * centres).sum(-1)
    return torch.sign(x) * torch.expm1(x.abs())


def _to_latent(in_dim: int, hidden: Sequence[int], cfg: GoalModelConfig) -> nn.Sequential:
    """An MLP ending in ``Linear -> LayerNorm -> SimNorm`` (TD-MPC2's encoders and dynamics)."""
    net = mlp(in_dim, hidden, cfg.latent_dim, activation=_ACTIVATIONS[cfg.activation], norm="before")
    return nn.Sequential(*net, nn.LayerNorm(cfg.latent_dim), _SimNorm(cfg.simnorm))


class _Nets(nn.Module):
    """Every network of the model; ``q_target`` is the Polyak copy of ``q``."""

    def __init__(self, obs_dim: int, goal_dim: int, act_dim: int, cfg: GoalModelConfig) -> None:
        super().__init__()
        L, H, act = cfg.latent_dim, (cfg.mlp_dim, cfg.mlp_dim), _ACTIVATIONS[cfg.activation]
        self.bins, self.value_scale = cfg.value_bins, cfg.value_scale
        # log units: raw -log1p(steps) / log1p(value_scale); None: raw = scaled (steps / value_scale)
        self.log_span = float(np.log1p(cfg.value_scale)) if cfg.value_units == "log" else None
        out = max(cfg.value_bins, 1)
        self.encoder = _to_latent(obs_dim, (cfg.enc_dim,), cfg)
        self.goal_encoder = _to_latent(goal_dim, (cfg.enc_dim,), cfg)
        self.dynamics = _to_latent(L + act_dim, H, cfg)
        self.q = ensemble_mlp(cfg.n_q, 2 * L + act_dim, H, out, activation=act, norm="before")
        self.q_target = ensemble_mlp(cfg.n_q, 2 * L + act_dim, H, out, activation=act, norm="before")
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.pi = mlp(2 * L, H, 2 * act_dim, activation=act, norm="before")
        self.phi = mlp(L, H, L, activation=act, norm="before")
        self.psi = mlp(L, H, L, activation=act, norm="before")
        self.w = mlp(2 * L, H, out, activation=act, norm="before")
        for name, dim in (("obs", obs_dim), ("goal", goal_dim)):  # standardisation statistics
            self.register_buffer(f"{name}_mean", torch.zeros(dim))
            self.register_buffer(f"{name}_std", torch.ones(dim))

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Raw observations ``[..., obs_dim]`` -> latents ``[..., L]`` (standardised first)."""
        return self.encoder((obs - self.obs_mean) / self.obs_std)

    def encode_goal(self, goal: torch.Tensor) -> torch.Tensor:
        """Raw goals ``[..., goal_dim]`` -> goal latents ``[..., L]`` (standardised first)."""
        return self.goal_encoder((goal - self.goal_mean) / self.goal_std)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return self.dynamics(torch.cat([z, a], -1))

    def q_heads(
        self, z: torch.Tensor, a: torch.Tensor, zg: torch.Tensor, target: bool = False
    ) -> torch.Tensor:
        """``[..., L], [..., A], [..., L] -> [K, ..., max(bins, 1)]``: the heads' raw outputs."""
        x = torch.cat([z, a, zg], -1)
        lead = x.shape[:-1]
        out = (self.q_target if target else self.q)(x.reshape(-1, x.shape[-1]))
        return out.reshape(-1, *lead, out.shape[-1])

    def q_values(
        self, z: torch.Tensor, a: torch.Tensor, zg: torch.Tensor, target: bool = False
    ) -> torch.Tensor:
        """``[..., L], [..., A], [..., L] -> [K, ...]`` scaled values (``Q / value_scale``)."""
        return self.scaled(self.q_heads(z, a, zg, target))

    def scaled(self, out: torch.Tensor) -> torch.Tensor:
        """A Q or W head's raw output ``[..., max(bins, 1)]`` -> its value ``[...]`` / ``value_scale``."""
        return from_bins(out) / self.value_scale if self.bins else self.from_units(out.squeeze(-1))

    def from_units(self, raw: torch.Tensor) -> torch.Tensor:
        """A regressed value ``[...]`` in the config's ``value_units`` -> steps / ``value_scale``."""
        if self.log_span is None:
            return raw
        # clamped: a raw value far outside [-1, 0] would overflow exp (1.5: 600^1.5 steps)
        return -torch.expm1(-raw.clamp(-1.5, 1.0) * self.log_span) / self.value_scale

    def to_units(self, td: torch.Tensor) -> torch.Tensor:
        """A scaled target ``[...]`` (steps / ``value_scale``, in ``[-1, 0]``) -> the regression's units."""
        if self.log_span is None:
            return td
        return -torch.log1p((-td * self.value_scale).clamp(min=0.0)) / self.log_span

    def head_loss(self, out: torch.Tensor, td: torch.Tensor) -> torch.Tensor:
        """Per-element loss of a Q or W head's raw output ``[..., max(bins, 1)]`` against the scaled TD
        target ``td [...]``: cross-entropy to its two-hot steps, or the squared error in value units."""
        if not self.bins:
            return (out.squeeze(-1) - self.to_units(td)).pow(2)
        return -(two_hot(td * self.value_scale, self.bins) * out.log_softmax(-1)).sum(-1)

    def policy(
        self, z: torch.Tensor, zg: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tanh-Gaussian actions ``[..., A]`` and their log-probabilities ``[...]`` (TD-MPC2's bounds);
        sampled with ``generator``, the mean action without one."""
        mu, raw = self.pi(torch.cat([z, zg], -1)).chunk(2, -1)
        log_std = -10.0 + 6.0 * (torch.tanh(raw) + 1.0)  # in [-10, 2]
        if generator is None:
            eps = torch.zeros_like(mu)
        else:
            eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        u = mu + eps * log_std.exp()
        log_prob = (-0.5 * eps.pow(2) - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)
        log_prob = log_prob - (2 * (np.log(2.0) - u - F.softplus(-2 * u))).sum(-1)  # tanh's Jacobian
        return torch.tanh(u), log_prob

    def v_raw(self, z: torch.Tensor, zg: torch.Tensor) -> torch.Tensor:
        """``phi(z) . psi(zg)``: ``[..., L], [..., L] -> [...]``, in the config's ``value_units``."""
        return (self.phi(z) * self.psi(zg)).sum(-1)

    def v(self, z: torch.Tensor, zg: torch.Tensor) -> torch.Tensor:
        """``V(z, zg)``: ``[..., L], [..., L] -> [...]`` (scaled: steps / ``value_scale``)."""
        return self.from_units(self.v_raw(z, zg))

    def w_heads(self, zg1: torch.Tensor, zg2: torch.Tensor) -> torch.Tensor:
        """``[..., L], [..., L] -> [..., max(bins, 1)]``: W's raw output."""
        return self.w(torch.cat([zg1, zg2], -1))

    def w_value(self, zg1: torch.Tensor, zg2: torch.Tensor) -> torch.Tensor:
        """``W(zg1, zg2)``: ``[..., L], [..., L] -> [...]`` (scaled)."""
        return self.scaled(self.w_heads(zg1, zg2))


class _GoalSlices:
    """All episodes as flat arrays, sampled as slices ``o_t .. o_t+n`` inside one episode, each step
    with its own relabelled goal (flat index of the state whose achieved goal it is)."""

    def __init__(
        self, obs: list[np.ndarray], goals: list[np.ndarray], acts: list[np.ndarray], n: int
    ) -> None:
        keep = [i for i, a in enumerate(acts) if len(a) >= n]  # the official code drops shorter episodes
        self.obs = np.concatenate([obs[i] for i in keep]).astype(np.float32)
        self.goals = np.concatenate([goals[i] for i in keep]).astype(np.float32)
        # each episode's action rows, plus a zero row at its last observation (never sampled)
        self.acts = np.concatenate([np.concatenate([acts[i], np.zeros_like(acts[i][:1])]) for i in keep])
        self.acts = self.acts.astype(np.float32)
        ends = np.cumsum([len(obs[i]) for i in keep])
        self.last = np.concatenate([np.full(len(obs[i]), e - 1) for i, e in zip(keep, ends, strict=True)])
        self.starts = np.flatnonzero(np.arange(len(self.obs)) + n <= self.last)

    def sample(
        self, rng: np.random.Generator, size: int, n: int, cfg: GoalModelConfig
    ) -> tuple[np.ndarray, np.ndarray]:
        """Flat indices of the slices ``[size, n+1]`` and of each step's goal state ``[size, n]``."""
        pos = self.starts[rng.integers(0, len(self.starts), size)][:, None] + np.arange(n + 1)
        t, last = pos[:, :-1], self.last[pos[:, :1]]
        u = rng.random(t.shape)
        future = np.minimum(t + rng.geometric(1.0 - cfg.relabel_discount, t.shape), last)
        goal = np.where(u < cfg.p_random + cfg.p_current, np.minimum(t + 1, last), future)
        goal = np.where(u < cfg.p_random, rng.integers(0, len(self.obs), t.shape), goal)
        return pos, goal


class GoalModel:
    """ZILOT's goal-conditioned latent model, trained offline; the planners' only learned part.

    Parameters
    ----------
    config : GoalModelConfig or None
        Hyperparameters; keyword overrides (``latent_dim=64``, ``value_scale=600``) are accepted too.
    env_id : str or None
        The env the data comes from; saved with the model, so a planner can refuse another env's model.
    seed : int
        Seeds the initialisation and the batch sampling.
    device : str, torch.device or None
        Where the networks live and run (None: the CPU).

    Data: episodes whose observations are dicts with ``"observation" [T+1, obs_dim]`` and
    ``"achieved_goal" [T+1, goal_dim]`` (gymnasium-robotics' goal envs; the local Fetch and PointMaze
    datasets keep both) and Box actions ``[T, act_dim]`` in ``[-1, 1]``. Methods take and return torch
    tensors on :attr:`device` (numpy in gives numpy out). Values are in env steps: ``value(z, zg)`` is
    ``-(steps to reach g)``, in ``[-value_scale, 0]`` once clamped.
    """

    def __init__(
        self,
        *,
        config: GoalModelConfig | None = None,
        env_id: str | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> None:
        self.config = with_overrides(config or GoalModelConfig(), overrides, "GoalModel")
        if env_id is not None and not isinstance(env_id, str):
            raise ValueError(f"GoalModel: env_id must be a str or None; got {env_id!r}")
        self.env_id = env_id  # saved with the model: a planner refuses a model of another env
        self.seed = check_int(seed, "seed", "GoalModel", minimum=0)
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.dims: dict[str, int] = {}  # obs, goal, act
        self.nets: _Nets | None = None
        self.n_updates = 0
        self.w_updates = 0  # fit_w's updates of W alone
        self.history: list[dict[str, float]] = []

    # --------------------------------------------------------------- building and data
    def _build(self, dims: dict[str, int]) -> None:
        self.dims = dict(dims)
        cfg = self.config
        with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the global RNG
            torch.manual_seed(self.seed)
            self.nets = _Nets(dims["obs"], dims["goal"], dims["act"], cfg).to(self.device)
        n = self.nets
        encoders = [*n.encoder.parameters(), *n.goal_encoder.parameters()]
        self._opts = {
            "model": torch.optim.Adam(
                [
                    {"params": encoders, "lr": cfg.lr * cfg.enc_lr_scale},
                    {"params": [*n.dynamics.parameters(), *n.q.parameters()]},
                ],
                lr=cfg.lr,
            ),
            "pi": torch.optim.Adam(n.pi.parameters(), lr=cfg.lr, eps=1e-5),
            "v": torch.optim.Adam([*n.phi.parameters(), *n.psi.parameters()], lr=cfg.lr),
            "w": torch.optim.Adam(n.w.parameters(), lr=cfg.lr),
        }

    def _require_fit(self, func: str) -> _Nets:
        if self.nets is None:
            raise ValueError(f"{func}: the goal model is not fitted; call fit() or GoalModel.load() first")
        return self.nets

    def _prepare(self, data: Any, func: str) -> _GoalSlices:
        """The episodes' arrays as slices; their sizes set (or must match) the model's."""
        from sb3_ot.data.sources import as_trajectories

        trajs = as_trajectories(data, func=func, name="data")
        if not trajs:
            raise ValueError(f"{func}: data must hold at least one episode; got none")
        obs, goals, acts = zip(*(_episode_arrays(t, i, func) for i, t in enumerate(trajs)), strict=True)
        dims = {"obs": obs[0].shape[1], "goal": goals[0].shape[1], "act": acts[0].shape[1]}
        for i, (o, g, a) in enumerate(zip(obs, goals, acts, strict=True)):
            got = {"obs": o.shape[1], "goal": g.shape[1], "act": a.shape[1]}
            if got != (self.dims or dims):
                raise ValueError(f"{func}: data[{i}] has sizes {got}; expected {self.dims or dims}")
        slices = _GoalSlices(obs, goals, acts, self.config.n_steps)
        if len(slices.starts) == 0:
            raise ValueError(f"{func}: no episode is longer than n_steps={self.config.n_steps}")
        if self.nets is None:  # statistics are fixed at the first fit: later fits keep the same function
            self._build(dims)
            self._set_stats(slices)
        return slices

    def _set_stats(self, slices: _GoalSlices) -> None:
        """Standardise inputs by the data's statistics (stds floored at 1e-2: Fetch's block height and
        the gripper's fingers barely move). Raw Fetch positions vary by centimetres around 1.3 m: unscaled,
        every goal encodes to nearly the same latent and values take far longer to learn (docs/zilot.md)."""
        nets = self.nets
        assert nets is not None
        for name, x in (("obs", slices.obs), ("goal", slices.goals)):
            getattr(nets, f"{name}_mean").copy_(torch.from_numpy(x.mean(0)))
            getattr(nets, f"{name}_std").copy_(torch.from_numpy(np.maximum(x.std(0), 1e-2)))

    # --------------------------------------------------------------- training
    def fit(self, data: Any, *, n_updates: int, progress: bool = True, log_every: int = 100) -> GoalModel:
        """Train on ``data`` (a local Minari id, a ``MinariDataset`` or a list of goal-env
        :class:`Trajectory` with actions); calling it again continues. :attr:`history` gets the losses
        every ``log_every`` updates. Returns ``self``.

        Raises
        ------
        ValueError
            For empty data, episodes without actions or without ``observation`` / ``achieved_goal``,
            sizes unlike the first episode's (or a previous ``fit``'s), actions outside ``[-1, 1]``,
            or a non-positive ``n_updates`` / ``log_every``.
        """
        return self._train(data, n_updates, log_every, progress, "GoalModel.fit", w_only=False)

    def fit_w(
        self,
        data: Any,
        *,
        n_updates: int,
        w_expectile: float | None = None,
        progress: bool = True,
        log_every: int = 100,
    ) -> GoalModel:
        """Refit only ``W`` of a fitted model on ``data``, every other network held as it is. ``W`` learns
        from detached goal latents with its own optimizer, so nothing else reads its training; this changes
        how it is trained (``w_expectile`` replaces the config's, and is saved with the model) without
        training the rest again. :attr:`history` gets ``{"update", "w_update", "w"}`` entries.

        Raises
        ------
        ValueError
            As :meth:`fit`; also for an unfitted model or a ``w_expectile`` outside ``(0, 1)``.
        """
        func = "GoalModel.fit_w"
        self._require_fit(func)
        before = self.config
        if w_expectile is not None:
            self.config = with_overrides(self.config, {"w_expectile": w_expectile}, func)
        try:
            return self._train(data, n_updates, log_every, progress, func, w_only=True)
        except ValueError:  # bad data or counts: the model keeps the W loss it had
            self.config = before
            raise

    def _train(
        self, data: Any, n_updates: int, log_every: int, progress: bool, func: str, *, w_only: bool
    ) -> GoalModel:
        """``n_updates`` updates of every network (or of ``W`` only) on batches of ``data``'s slices."""
        n_updates = check_int(n_updates, "n_updates", func)
        log_every = check_int(log_every, "log_every", func)
        slices = self._prepare(data, func)
        nets, cfg = self._require_fit(func), self.config
        obs, goals, acts, last = (
            torch.from_numpy(x).to(self.device) for x in (slices.obs, slices.goals, slices.acts, slices.last)
        )
        # continuing a loaded model = the live one; a W refit draws its own batches
        key = [self.seed, self.n_updates] + ([self.w_updates] if self.w_updates or w_only else [])
        rng = np.random.default_rng(key)
        gen = torch.Generator(device=self.device).manual_seed(int(rng.integers(2**31)))
        step_fn, desc = (self._update_w, "GoalModel W") if w_only else (self._update, "GoalModel")
        nets.train()
        for step in tqdm(range(n_updates), desc=desc, disable=not progress, unit="update"):
            pos, gidx = (
                torch.from_numpy(x).to(self.device)
                for x in slices.sample(rng, cfg.batch_size, cfg.n_steps, cfg)
            )
            ends = last[pos[:, 1:]] == pos[:, 1:]  # [B, n]: the next state ends its episode (no action)
            info = step_fn(obs[pos], acts[pos], goals[gidx], goals[pos], ends, gen)
            self.w_updates += w_only
            self.n_updates += not w_only
            if step % log_every == 0 or step == n_updates - 1:
                counts = {"update": self.n_updates} | ({"w_update": self.w_updates} if w_only else {})
                self.history.append(counts | info)
        nets.eval()
        return self

    def _update(
        self,
        o: torch.Tensor,
        a_all: torch.Tensor,
        g: torch.Tensor,
        ag: torch.Tensor,
        ends: torch.Tensor,
        gen: torch.Generator,
    ) -> dict[str, float]:
        """One update of every network on slices ``o [B, n+1, D]``, their actions ``a_all [B, n+1, A]`` (the
        last one only for ``td_action="data"``), goals ``g [B, n, G]``, the slices' achieved goals
        ``ag [B, n+1, G]`` and where the next state ends its episode ``ends [B, n]``."""
        nets, cfg, n = self.nets, self.config, self.config.n_steps
        a, a_next = a_all[:, :-1], a_all[:, 1:]
        assert nets is not None
        w = self._step_weights(o.device)  # [n]
        zg = nets.encode_goal(g)
        next_z, td = self._targets(o, a_next, zg, g, ag, ends, gen)  # [B, n, L], [B, n] in [-1, 0]
        z, zs, consistency = nets.encode(o[:, 0]), [], 0.0
        for t in range(n):
            zs.append(z)
            z = nets.step(z, a[:, t])
            consistency = consistency + w[t] * (z - next_z[:, t]).pow(2).mean()
        z_roll = torch.stack(zs, 1)  # [B, n, L]: the encoded start, then the model's own latents
        q_loss = (nets.head_loss(nets.q_heads(z_roll, a, zg), td).mean((0, 1)) * w).sum()
        z_d, zg_d = z_roll.detach(), zg.detach()
        v_loss = (self._v_loss(z_d, a, zg_d, td).mean(0) * w).sum()
        w_loss = self._w_loss(ag, zg_d, td)
        loss = cfg.consistency * consistency + cfg.q_coef * q_loss + v_loss + w_loss
        for opt in self._opts.values():
            opt.zero_grad(set_to_none=True)
        loss.backward()
        model_params = [p for group in self._opts["model"].param_groups for p in group["params"]]
        grad_norm = nn.utils.clip_grad_norm_(model_params, cfg.grad_clip)
        for name in ("model", "v", "w"):
            self._opts[name].step()
        pi_loss = self._pi_step(z_d, zg_d, w, gen)
        polyak_update(nets.q, nets.q_target, cfg.tau)
        parts = {"consistency": consistency, "q": q_loss, "v": v_loss, "w": w_loss, "pi": pi_loss}
        return {k: float(v.detach()) for k, v in parts.items()} | {
            "grad_norm": float(grad_norm),
            "td_steps": float(-td.mean() * cfg.value_scale),
        }

    @torch.no_grad()
    def _targets(
        self,
        o: torch.Tensor,
        a_next: torch.Tensor,
        zg: torch.Tensor,
        g: torch.Tensor,
        ag: torch.Tensor,
        ends: torch.Tensor,
        gen: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoded next observations ``[B, n, L]`` and the TD targets ``[B, n]`` of :meth:`_update`."""
        nets = self.nets
        assert nets is not None
        done = (ag[:, :-1] - g).abs().amax(-1) < 1e-6  # [B, n]: this state already has the goal
        next_done = (ag[:, 1:] - g).abs().amax(-1) < 1e-6
        next_z = nets.encode(o[:, 1:])
        return next_z, self._td_target(next_z, zg, done, next_done, a_next, ends, gen)

    def _update_w(
        self,
        o: torch.Tensor,
        a_all: torch.Tensor,
        g: torch.Tensor,
        ag: torch.Tensor,
        ends: torch.Tensor,
        gen: torch.Generator,
    ) -> dict[str, float]:
        """One update of ``W`` alone, on the batch :meth:`_update` would take."""
        nets = self.nets
        assert nets is not None
        with torch.no_grad():
            zg = nets.encode_goal(g)
            _, td = self._targets(o, a_all[:, 1:], zg, g, ag, ends, gen)
        loss = self._w_loss(ag, zg, td)
        self._opts["w"].zero_grad(set_to_none=True)
        loss.backward()
        self._opts["w"].step()
        return {"w": float(loss.detach())}

    def _step_weights(self, device: torch.device) -> torch.Tensor:
        """The losses' weights over the ``n_steps`` rollout steps ``[n]``: ``rho**t / n``."""
        n = self.config.n_steps
        return self.config.rho ** torch.arange(n, device=device, dtype=torch.float32) / n

    def _w_loss(self, ag: torch.Tensor, zg: torch.Tensor, td: torch.Tensor) -> torch.Tensor:
        """``W``'s weighted loss (a scalar) from the slices' achieved goals ``ag [B, n+1, G]`` (encoded
        without gradient) to goal latents ``zg [B, n, L]``: the head loss against ``td [B, n]``
        (``w_expectile`` 0.5), else the expectile regression ``|tau - 1[u < 0]| u^2``, ``u = td - W`` in
        value units."""
        nets, tau = self.nets, self.config.w_expectile
        assert nets is not None
        with torch.no_grad():
            zag = nets.encode_goal(ag[:, :-1])
        out = nets.w_heads(zag, zg)
        if tau == 0.5:
            loss = nets.head_loss(out, td)
        else:
            u = nets.to_units(td) - out.squeeze(-1)
            loss = (tau - (u < 0).float()).abs() * u.pow(2)
        return (loss.mean(0) * self._step_weights(td.device)).sum()

    def _v_loss(self, z: torch.Tensor, a: torch.Tensor, zg: torch.Tensor, td: torch.Tensor) -> torch.Tensor:
        """Per-pair ``V`` loss ``[B, n]``: squared error to the TD target ``td``, or (``td_action=
        "expectile"``) IQL's expectile regression towards the min of 2 target ``Q`` heads at the data's
        actions ``a``: ``|expectile - 1[u < 0]| u^2``, ``u = Q - V``."""
        nets, cfg = self.nets, self.config
        assert nets is not None
        v = nets.v_raw(z, zg)
        if cfg.td_action != "expectile":
            return (v - nets.to_units(td)).pow(2)
        with torch.no_grad():
            q = nets.q_values(z, a, zg, target=True)[:2].min(0).values
        u = nets.to_units(q) - v
        return (cfg.expectile - (u < 0).float()).abs() * u.pow(2)

    def _td_target(
        self,
        next_z: torch.Tensor,
        zg: torch.Tensor,
        done: torch.Tensor,
        next_done: torch.Tensor,
        a_next: torch.Tensor,
        ends: torch.Tensor,
        gen: torch.Generator,
    ) -> torch.Tensor:
        """``-1 + min(2 random target heads)`` at the next state and the policy's action (``td_action=
        "data"``: the data's next action ``a_next``, the policy's where the episode ``ends``;
        ``"expectile"``: ``-1 + V(z', zg)``), scaled to ``[-1, 0]``; ``-1`` when the next state reaches
        the goal, ``0`` when this one does."""
        nets, cfg = self.nets, self.config
        assert nets is not None
        if cfg.td_action == "expectile":
            boot = nets.v(next_z, zg)
        else:
            act, _ = nets.policy(next_z, zg, gen)
            if cfg.td_action == "data":  # in-data: no over-estimated out-of-data action (docs/zilot.md)
                act = torch.where(ends[..., None], act, a_next)
            q = nets.q_values(next_z, act, zg, target=True)  # [K, B, n]
            boot = q[torch.randperm(cfg.n_q, generator=gen, device=q.device)[:2]].min(0).values
        step = 1.0 / cfg.value_scale
        td = torch.where(next_done, -step, boot - step)
        return torch.where(done, 0.0, td).clamp(-1.0, 0.0)

    def _pi_step(
        self, z: torch.Tensor, zg: torch.Tensor, w: torch.Tensor, gen: torch.Generator
    ) -> torch.Tensor:
        """The policy ascends the ensemble-mean ``Q`` (Q's own weights held still), TD-MPC2's entropy bonus."""
        nets, cfg = self.nets, self.config
        assert nets is not None
        nets.q.requires_grad_(False)
        try:
            act, log_prob = nets.policy(z, zg, gen)
            q = nets.q_values(z, act, zg).mean(0)  # [B, n]
            loss = ((cfg.entropy * log_prob - q).mean(0) * w).sum()
            self._opts["pi"].zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(nets.pi.parameters(), cfg.grad_clip)
            self._opts["pi"].step()
        finally:
            nets.q.requires_grad_(True)
        return loss.detach()

    # --------------------------------------------------------------- the model's surface
    def _tensor(self, x: Any, name: str, func: str, size: int) -> torch.Tensor:
        """``x`` as a finite float32 tensor ``[..., size]`` on the device."""
        return as_float_tensor(x, name, func, (size,), self.device)

    _out = staticmethod(like_input)

    @torch.no_grad()
    def encode(self, obs: Any) -> Any:
        """Latents ``[..., latent_dim]`` of observations ``obs [..., obs_dim]`` (``obs["observation"]``)."""
        nets = self._require_fit("GoalModel.encode")
        return self._out(nets.encode(self._tensor(obs, "obs", "GoalModel.encode", self.dims["obs"])), obs)

    @torch.no_grad()
    def encode_goal(self, goal: Any) -> Any:
        """Goal latents ``[..., latent_dim]`` of goals ``goal [..., goal_dim]`` (achieved-goal space)."""
        nets = self._require_fit("GoalModel.encode_goal")
        g = self._tensor(goal, "goal", "GoalModel.encode_goal", self.dims["goal"])
        return self._out(nets.encode_goal(g), goal)

    @torch.no_grad()
    def next(self, z: Any, action: Any) -> Any:
        """The next latent ``[..., latent_dim]`` of ``z [..., latent_dim]`` and ``action [..., act_dim]``."""
        nets, L = self._require_fit("GoalModel.next"), self.config.latent_dim
        zt = self._tensor(z, "z", "GoalModel.next", L)
        at = self._tensor(action, "action", "GoalModel.next", self.dims["act"])
        lead = torch.broadcast_shapes(zt.shape[:-1], at.shape[:-1])
        return self._out(nets.step(zt.expand(*lead, -1), at.expand(*lead, -1)), z)

    @torch.no_grad()
    def value(self, z: Any, zg: Any) -> Any:
        """``V(z, zg)`` in env steps (``-(steps to reach the goal)``, unclamped) ``[...]``, broadcast."""
        nets, L = self._require_fit("GoalModel.value"), self.config.latent_dim
        v = nets.v(self._tensor(z, "z", "GoalModel.value", L), self._tensor(zg, "zg", "GoalModel.value", L))
        return self._out(v * self.config.value_scale, z)

    @torch.no_grad()
    def value_matrix(self, z: Any, zg: Any) -> Any:
        """``V`` of every state-goal pair: ``z [..., N, L]``, ``zg [..., M, L]`` -> ``[..., N, M]`` steps.
        One matrix product (``V = phi(z) . psi(zg)``): what the OT planner's cost is made of."""
        nets, L = self._require_fit("GoalModel.value_matrix"), self.config.latent_dim
        zt = self._tensor(z, "z", "GoalModel.value_matrix", L)
        gt = self._tensor(zg, "zg", "GoalModel.value_matrix", L)
        raw = nets.phi(zt) @ nets.psi(gt).transpose(-1, -2)
        return self._out(nets.from_units(raw) * self.config.value_scale, z)

    @torch.no_grad()
    def goal_value(self, zg1: Any, zg2: Any) -> Any:
        """``W(zg1, zg2)`` in env steps: how long the data takes from goal 1 to goal 2 (negative) ``[...]``."""
        nets, L = self._require_fit("GoalModel.goal_value"), self.config.latent_dim
        a = self._tensor(zg1, "zg1", "GoalModel.goal_value", L)
        b = self._tensor(zg2, "zg2", "GoalModel.goal_value", L)
        return self._out(nets.w_value(*torch.broadcast_tensors(a, b)) * self.config.value_scale, zg1)

    @torch.no_grad()
    def act(self, z: Any, zg: Any) -> Any:
        """The policy's mean action ``[..., act_dim]`` in ``[-1, 1]`` towards the goal of ``zg``."""
        nets, L = self._require_fit("GoalModel.act"), self.config.latent_dim
        zt, gt = self._tensor(z, "z", "GoalModel.act", L), self._tensor(zg, "zg", "GoalModel.act", L)
        return self._out(nets.policy(*torch.broadcast_tensors(zt, gt))[0], z)

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model (weights, optimizers, sizes, env id, history) to ``path``, atomically."""
        return save_checkpoint(path, self.state("GoalModel.save"))

    def state(self, func: str = "GoalModel.state") -> dict[str, Any]:
        """Everything :meth:`save` writes, as tensors and plain values (what a planner's file embeds)."""
        nets = self._require_fit(func)
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "config": asdict(self.config),
            "env_id": self.env_id,
            "seed": self.seed,
            "dims": self.dims,
            "nets": nets.state_dict(),
            "opts": {k: opt.state_dict() for k, opt in self._opts.items()},
            "n_updates": self.n_updates,
            "w_updates": self.w_updates,
            "history": self.history,
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device | None = None) -> GoalModel:
        """Load a model written by :meth:`save` onto ``device`` (None: the CPU); training can continue."""
        state = load_checkpoint(path, func="GoalModel.load", what="goal-model file")
        return cls.from_state(state, device, where=repr(str(path)), func="GoalModel.load")

    @classmethod
    def from_state(
        cls, state: dict[str, Any], device: str | torch.device | None = None, *, where: str, func: str
    ) -> GoalModel:
        """The model of a :meth:`state` dict (``where`` names its file in errors)."""
        if state.get("format") != _FORMAT:
            raise ValueError(
                f"{func}: {where} is not a goal-model checkpoint (format {state.get('format')!r})"
            )
        if state.get("version") != _VERSION:
            raise ValueError(
                f"{func}: {where} has goal-model format version {state.get('version')!r}; "
                f"this sb3-ot reads {_VERSION}"
            )
        try:
            cfg = GoalModelConfig(**state["config"])
            model = cls(config=cfg, env_id=state["env_id"], seed=state["seed"], device=device)
            model._build({k: int(v) for k, v in state["dims"].items()})
            assert model.nets is not None
            model.nets.load_state_dict(state["nets"])
            for k, opt in model._opts.items():
                opt.load_state_dict(state["opts"][k])
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(
                f"{func}: {where} holds an incomplete or inconsistent goal model ({err!r})"
            ) from None
        model.n_updates, model.history = int(state["n_updates"]), list(state["history"])
        model.w_updates = int(state.get("w_updates", 0))  # older files: none
        model.nets.eval()
        return model

    def __repr__(self) -> str:
        c = self.config
        return (
            f"GoalModel(env_id={self.env_id!r}, dims={self.dims}, latent_dim={c.latent_dim}, "
            f"value_scale={c.value_scale:g}, n_updates={self.n_updates})"
        )


def _episode_arrays(t: Trajectory, i: int, func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``observation [T+1, D]``, ``achieved_goal [T+1, G]`` and actions ``[T, A]`` of episode ``i``."""
    if not t.is_dict_obs or not {"observation", "achieved_goal"} <= set(t.obs):
        keys = sorted(t.obs) if t.is_dict_obs else "a plain array"
        raise ValueError(
            f"{func}: data[{i}] observations must be dicts with 'observation' and 'achieved_goal' (a goal "
            f"env's); got {keys}"
        )
    if t.acts is None:
        raise ValueError(f"{func}: data[{i}] has no actions; the goal model learns from actions too")
    obs, goals = np.asarray(t.obs["observation"]), np.asarray(t.obs["achieved_goal"])
    acts = np.asarray(t.acts, dtype=np.float32)
    if obs.ndim != 2 or goals.ndim != 2 or acts.ndim != 2:
        raise ValueError(
            f"{func}: data[{i}] must have flat observations, goals and Box actions; got shapes "
            f"{obs.shape}, {goals.shape}, {acts.shape}"
        )
    if np.abs(acts).max(initial=0.0) > 1.0 + 1e-6:
        raise ValueError(
            f"{func}: data[{i}] actions must lie in [-1, 1] (the planner's bounds); got {np.abs(acts).max()}"
        )
    return obs, goals, acts

"""OT rewards: each step of an agent trajectory is rewarded by how cheaply it transports onto the expert.

For an agent trajectory with states ``s_0 .. s_T`` and an expert with ``e_0 .. e_M``, rows are the
agent's steps ``i = 0 .. T-1`` and columns the expert's steps ``j = 0 .. M-1``, each a feature vector
``f(s_i)`` (``[f(s_i), f(s_min(i+k, T))]`` with a pair offset ``k``, as AILOT). An entropic OT plan ``P``
with uniform marginals (:func:`sb3_ot.ot.sinkhorn`) gives each row's transport cost
``c_i = sum_j P_ij C_ij``; its mass is ``1 / T``, so ``T c_i`` is the mean cost of moving step ``i``. The
reward is ``r_i = alpha * exp(-scale * T * c_i)``.

* Squared Euclidean costs are divided by the feature size, ``C_ij = |x_i - y_j|^2 / D``, so ``eps`` and
  ``scale`` mean the same for 17-d states and 256-d intents. Cosine costs are ``1 - cos`` (in [0, 2]).
* Start alignment (AILOT): columns before ``j1 = argmin_j C_0j`` get zero weight, so the expert starts
  where the agent starts.
* Several experts: ``aggregation="best"`` keeps, per agent trajectory, the expert whose rewards sum
  highest (OTR's top-1, AILOT's best expert); ``"mean"`` averages them.

Trajectories are labelled in padded batches (zero weight on padding) through one engine call per
expert and batch, which is where the OT engine's speed shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple, overload

import numpy as np
import torch
from tqdm.auto import tqdm

from sb3_ot import ot
from sb3_ot._args import check_choice, check_float, check_int, with_overrides
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.data.sources import as_trajectories
from sb3_ot.data.trajectory import DEFAULT_OBS_KEY, Trajectory
from sb3_ot.encoders.base import (
    Encoder,
    IdentityEncoder,
    NormalizedStateEncoder,
    as_device,
    stack_observations,
)


@dataclass(frozen=True)
class OTRewardConfig:
    """Settings of an :class:`OTRewarder` (see its docstring for each field's meaning).

    ``scale_per_dim=True`` divides ``scale`` by the feature size (OTR's ``beta * T / obs_dim``).
    """

    cost: Literal["sqeuclidean", "cosine"] = "sqeuclidean"
    pair_offset_k: int = 0
    eps: float = 0.01
    alpha: float = 1.0
    scale: float = 1.0
    scale_per_dim: bool = False
    start_alignment: bool = False
    aggregation: Literal["best", "mean"] = "best"
    solver: Literal["sinkhorn", "exact"] = "sinkhorn"
    tol: float = 1e-4
    max_iter: int = 10_000
    backend: Literal["auto", "tensorized", "keops"] = "auto"
    eps_scaling: float | None = None
    batch_size: int = 32

    def __post_init__(self) -> None:
        func = "OTRewarder"
        check_choice(self.cost, "cost", func, ("sqeuclidean", "cosine"))
        check_choice(self.aggregation, "aggregation", func, ("best", "mean"))
        check_choice(self.solver, "solver", func, ("sinkhorn", "exact"))
        check_choice(self.backend, "backend", func, ("auto", "tensorized", "keops"))
        for name in ("eps", "scale", "tol"):
            object.__setattr__(self, name, check_float(getattr(self, name), name, func))
        object.__setattr__(self, "alpha", check_float(self.alpha, "alpha", func, low=None))
        object.__setattr__(
            self, "pair_offset_k", check_int(self.pair_offset_k, "pair_offset_k", func, minimum=0)
        )
        object.__setattr__(self, "max_iter", check_int(self.max_iter, "max_iter", func))
        object.__setattr__(self, "batch_size", check_int(self.batch_size, "batch_size", func))
        if self.eps_scaling is not None:
            object.__setattr__(
                self, "eps_scaling", check_float(self.eps_scaling, "eps_scaling", func, low=1.0)
            )


class Coupling(NamedTuple):
    """An OT plan behind a trajectory's rewards (:meth:`OTRewarder.coupling`)."""

    plan: torch.Tensor  # [T, M]: agent steps x expert steps, rows summing to 1 / T
    row_cost: torch.Tensor  # [T]: sum_j plan_ij C_ij
    expert: int  # index of the expert in set_expert's order


@dataclass
class _Batch:
    """Padded feature rows of trajectories: ``x [B, N, F]``, weights ``a [B, N]`` (0 on padding)."""

    x: torch.Tensor
    a: torch.Tensor
    lengths: torch.Tensor  # [B] int64


class OTRewarder:
    """Per-step OT rewards against expert demonstrations (the shared core of AILOT and OTR).

    Parameters
    ----------
    encoder : Encoder or None
        Features the cost is computed in. ``None``: raw observations (:class:`IdentityEncoder`).
    config : OTRewardConfig or None
        All settings below at once; keyword overrides (``eps=...``) apply on top.
    obs_key : str or None
        Key of dict observations (default ``"observation"``).
    device : str, torch.device or None
        Where features, OT and rewards are computed. ``None``: the encoder's device if it has one,
        else where the expert's tensors are, else the CPU. On CUDA, ``backend="auto"`` reaches KeOps
        for large batches.
    cost : {"sqeuclidean", "cosine"}
        ``|x - y|^2 / D`` or ``1 - cos(x, y)``.
    pair_offset_k : int
        ``0``: one state per row. ``k > 0``: row ``i`` is ``[f(s_i), f(s_min(i+k, T))]`` (AILOT).
    eps : float
        Entropic regularisation on the scale of the cost.
    alpha, scale : float
        ``r_i = alpha * exp(-scale * T * c_i)``.
    start_alignment : bool
        Drop expert steps before the one closest to the agent's first step.
    aggregation : {"best", "mean"}
        How rewards against several experts combine.
    solver : {"sinkhorn", "exact"}
        ``"sinkhorn"``: the entropic plan at ``eps`` (:func:`sb3_ot.ot.sinkhorn`, batched, GPU/KeOps).
        ``"exact"``: the unregularised plan (:func:`sb3_ot.ot.emd_matrix`, POT's network simplex, one
        CPU solve per trajectory), faster for short trajectories (a few hundred steps) at small eps;
        the causal ``mode="step"`` reward's default.
    tol, max_iter, backend, eps_scaling : float, int, str, float or None
        Passed to :func:`sb3_ot.ot.sinkhorn`. ``eps_scaling`` anneals eps from the cost range down, so
        costs spanning many times eps converge in tens of iterations instead of hundreds.
    batch_size : int
        Agent trajectories per engine call.

    Arrays in, arrays out: observations given as numpy arrays or :class:`Trajectory` get numpy rewards;
    observations given as torch tensors get tensors on :attr:`device`.
    """

    _registry: ClassVar[dict[str, type[OTRewarder]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OTRewarder._registry[cls.__name__] = cls

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        config: OTRewardConfig | None = None,
        obs_key: str | None = None,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> None:
        cfg = with_overrides(config or OTRewardConfig(), overrides, type(self).__name__)
        self.config = cfg
        self.encoder = encoder if encoder is not None else IdentityEncoder(obs_key=obs_key)
        self.obs_key = obs_key
        self._device = as_device(device)
        self._expert_device: torch.device | None = None
        self.experts: list[torch.Tensor] = []  # expert row features [M_e, F] on self.device

    # ------------------------------------------------------------------ settings
    cost = property(lambda self: self.config.cost)
    k = property(lambda self: self.config.pair_offset_k)
    eps = property(lambda self: self.config.eps)
    alpha = property(lambda self: self.config.alpha)
    start_alignment = property(lambda self: self.config.start_alignment)
    aggregation = property(lambda self: self.config.aggregation)
    solver = property(lambda self: self.config.solver)

    @property
    def scale(self) -> float:
        """The effective ``scale`` of ``r_i = alpha * exp(-scale * T * c_i)``."""
        if self.config.scale_per_dim and self.encoder.obs_dim is not None:
            return self.config.scale / float(self.encoder.dim)
        return self.config.scale

    @property
    def device(self) -> torch.device:
        """Where features, OT and rewards are computed (see the ``device`` parameter)."""
        return self._device or self.encoder.device or self._expert_device or torch.device("cpu")

    # ------------------------------------------------------------------ features
    def features(self, obs: Any) -> torch.Tensor:
        """Row features ``[T, F]`` (float32, on :attr:`device`) of one trajectory's observations ``[T+1, obs_dim]``."""
        x = (
            obs if isinstance(obs, torch.Tensor) else torch.tensor(obs, dtype=torch.float32)
        )  # a copy: Trajectory arrays are read-only
        z = self.encoder.encode(x.to(self.device)).to(self.device)  # [T+1, d]
        n = len(z) - 1
        rows = z[:n]
        if self.k > 0:
            ahead = torch.clamp(torch.arange(n, device=z.device) + self.k, max=n)
            rows = torch.cat([rows, z[ahead]], dim=1)
        if self.cost == "sqeuclidean":
            rows = rows / float(np.sqrt(rows.shape[1]))  # |x - y|^2 / D
        return rows.float().contiguous()

    def set_expert(self, expert: Any) -> OTRewarder:
        """Set the expert demonstrations: Trajectory(s), observation arrays or tensors ``[T+1, obs_dim]``
        or a local Minari dataset id. An unfitted :class:`IdentityEncoder` or
        :class:`NormalizedStateEncoder` is fitted on them. Returns ``self``."""
        tensors = expert if isinstance(expert, list | tuple) else [expert]
        if tensors and all(isinstance(t, torch.Tensor) for t in tensors):
            self._expert_device = tensors[0].device
        trajs = as_trajectories(expert, func="set_expert", obs_key=self.obs_key)
        observations = stack_observations(trajs, self.obs_key, "set_expert")
        if (
            isinstance(self.encoder, IdentityEncoder | NormalizedStateEncoder)
            and self.encoder.obs_dim is None
        ):
            self.encoder.fit(trajs)  # the simple encoders take their size (and statistics) from the expert
        if self.encoder.obs_dim is not None and observations[0].shape[1] != self.encoder.obs_dim:
            raise ValueError(
                f"set_expert: expert observations have obs_dim {observations[0].shape[1]} but the encoder "
                f"expects {self.encoder.obs_dim}"
            )
        self.experts = [self.features(o) for o in observations]
        return self

    # ------------------------------------------------------------------ rewards
    def rewards(self, trajectories: Iterable[Any] | Trajectory, *, progress: bool = False) -> list[Any]:
        """Per-step rewards ``[T]`` (float32) of each trajectory, in order.

        ``trajectories``: :class:`Trajectory` objects, or observations ``[T+1, obs_dim]`` (arrays, tensors
        or dicts of them). All tensors: the rewards are tensors on :attr:`device`; else numpy arrays.

        Raises
        ------
        ValueError
            If no expert is set, or trajectories are empty, hold NaN, or do not match the expert's
            observation size or key.
        """
        items = [trajectories] if isinstance(trajectories, Trajectory) else list(trajectories)
        feats, tensor_out = self._checked_features(items, "rewards", "trajectories")
        return self._output(self._label(feats, None, progress), tensor_out)

    @overload
    def prefix_rewards(self, prefixes: Sequence[Any], *, last_only: Literal[True] = ...) -> Any: ...

    @overload
    def prefix_rewards(self, prefixes: Sequence[Any], *, last_only: Literal[False]) -> list[Any]: ...

    def prefix_rewards(self, prefixes: Sequence[Any], *, last_only: bool = True) -> Any:
        """Causal rewards: for each prefix ``s_0 .. s_t`` (observations ``[t+1, obs_dim]``, a dict of them
        or a Trajectory), its ``t`` rows are transported onto the expert's first ``min(t, M)`` rows
        (progress-matched), with the same features, alignment, squashing and aggregation as
        :meth:`rewards`.

        Returns ``[len(prefixes)]`` float32, the reward of each prefix's last transition
        (``last_only=True``: ``OTRewardWrapper(mode="step")``'s reward), or each prefix's rewards ``[t]``
        (``last_only=False``: how the SB3 callback rewards an episode still running when PPO's rollout
        ends). It needs no future states; a prefix of length ``t`` costs one ``t x min(t, M)`` OT problem.
        Tensors in, tensors out, as :meth:`rewards`.
        """
        items = list(prefixes)
        if not items:
            return np.zeros(0, np.float32) if last_only else []
        # pairs (s_i, s_i+k) of a prefix may only look at states already seen: min(i + k, t)
        feats, tensor_out = self._checked_features(items, "prefix_rewards", "observations")
        rewards = self._label(feats, [len(f) for f in feats], False)
        if not last_only:
            return self._output(rewards, tensor_out)
        last = torch.stack([r[-1] for r in rewards])
        return last if tensor_out else last.cpu().numpy()

    def coupling(self, trajectory: Any, *, expert: int | None = None) -> Coupling:
        """The OT plan that :meth:`rewards` turns into this trajectory's rewards.

        Against expert ``expert`` (default: the one whose rewards are kept: the best expert, or the first
        under ``aggregation="mean"``). Returns a :class:`Coupling`: ``plan [T, M_e]`` on :attr:`device`,
        whose rows sum to ``1 / T`` (with start alignment, the expert's steps before the aligned start
        carry no mass), ``row_cost [T]`` (``sum_j P_ij C_ij``, what the rewards squash) and the expert's index.
        """
        (feats,), _ = self._checked_features([trajectory], "coupling", "trajectory")
        batch = self._pad([feats])
        if expert is None:
            expert = (
                0
                if self.aggregation == "mean"
                else int(self._expert_rewards(batch, None).sum(-1)[:, 0].argmax())
            )
        check_int(expert, "expert", "coupling", minimum=0)
        if expert >= len(self.experts):
            raise ValueError(
                f"coupling: expert must index one of the {len(self.experts)} experts; got {expert}"
            )
        row_cost, plan = self._solve(batch, self.experts[expert], None, return_plan=True)
        assert plan is not None
        return Coupling(plan[0], row_cost[0], expert)

    def _output(self, rewards: list[torch.Tensor], tensor_out: bool) -> list[Any]:
        return rewards if tensor_out else [r.cpu().numpy() for r in rewards]

    def _checked_features(self, items: list[Any], func: str, what: str) -> tuple[list[torch.Tensor], bool]:
        """Row features ``[T_b, F]`` of each item and whether all items were tensors, after checking an
        expert is set and the observation size matches it (errors name ``func`` and ``what``)."""
        if not self.experts:
            raise ValueError(f"{func}: no expert set; call set_expert(...) first")
        if not items:
            raise ValueError(f"{func}: {what} must hold at least one trajectory; got none")
        key = self.obs_key or DEFAULT_OBS_KEY
        picked = [i.get(key) if isinstance(i, Mapping) else i for i in items]
        tensor_in = all(isinstance(p, torch.Tensor) for p in picked)
        observations = (
            _tensor_observations(picked, func, what) if tensor_in else self._array_observations(items, func)
        )
        if observations[0].shape[1] != self.encoder.obs_dim:
            raise ValueError(
                f"{func}: {what} have obs_dim {observations[0].shape[1]} but the expert has {self.encoder.obs_dim}"
            )
        return [self.features(o) for o in observations], tensor_in

    def _array_observations(self, items: list[Any], func: str) -> list[np.ndarray]:
        trajs = []
        for i, item in enumerate(items):
            try:
                trajs.append(
                    item if isinstance(item, Trajectory) else Trajectory(item, None, terminated=False)
                )
            except ValueError as err:
                raise ValueError(f"{func}: item {i}: {err}") from err
        return stack_observations(trajs, self.obs_key, func)

    def _pad(self, feats: list[torch.Tensor]) -> _Batch:
        lengths = torch.tensor([len(f) for f in feats], device=self.device)
        x = feats[0].new_zeros((len(feats), int(lengths.max()), feats[0].shape[1]))
        for row, f in enumerate(feats):
            x[row, : len(f)] = f
        a = (torch.arange(x.shape[1], device=self.device)[None] < lengths[:, None]).to(x.dtype)
        return _Batch(x, a, lengths)

    def _label(
        self, feats: list[torch.Tensor], n_cols: list[int] | None, progress: bool
    ) -> list[torch.Tensor]:
        """Rewards of feature rows ``[T_b, F]``; ``n_cols[b]``: expert steps item ``b`` may use (all if None)."""
        out: list[torch.Tensor] = [feats[0]] * len(feats)
        order = np.argsort([len(f) for f in feats], kind="stable")  # similar lengths share a batch
        size = self.config.batch_size
        batches = [order[i : i + size] for i in range(0, len(order), size)]
        for batch in tqdm(batches, desc="OT rewards", disable=not progress, unit="batch"):
            padded = self._pad([feats[i] for i in batch])
            cols = None if n_cols is None else np.asarray(n_cols)[batch]
            r = self._aggregate(self._expert_rewards(padded, cols))  # [B, N]
            for row, i in enumerate(batch):
                out[i] = r[row, : len(feats[i])].float()
        return out

    def _expert_rewards(self, batch: _Batch, n_cols: np.ndarray | None) -> torch.Tensor:
        """Rewards ``[E, B, N]`` (float64, 0 on padding) of the batch against each expert."""
        per_expert = []
        for y in self.experts:
            cols = None if n_cols is None else np.minimum(n_cols, len(y))
            row_cost, _ = self._solve(batch, y, cols)  # [B, N], each row's mass 1/T
            exponent = (-self.scale * batch.lengths[:, None].double()) * row_cost.double()
            per_expert.append(torch.where(batch.a > 0, self.alpha * torch.exp(exponent), 0.0))
        return torch.stack(per_expert)

    def _aggregate(self, r: torch.Tensor) -> torch.Tensor:
        if self.aggregation == "best":  # per trajectory, the expert whose rewards sum highest
            best = r.sum(-1).argmax(0)
            return r[best, torch.arange(r.shape[1], device=r.device)]
        return r.mean(0)

    def _cost_inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``, ``y`` as :func:`sb3_ot.ot.cost_matrix` wants them: unit vectors for the cosine cost."""
        if self.cost == "cosine":
            return torch.nn.functional.normalize(x, dim=-1), torch.nn.functional.normalize(y, dim=-1)
        return x, y

    def _solve(
        self, batch: _Batch, y: torch.Tensor, n_cols: np.ndarray | None, return_plan: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Row costs ``[B, N]`` (and plans ``[B, N, M]``) of the batch against expert ``y [M, F]``, each
        batch item restricted to the expert's first ``n_cols[b]`` steps when given."""
        cfg, x = self.config, batch.x
        cols = torch.arange(y.shape[0], device=y.device)[None]
        allowed = torch.ones(x.shape[0], y.shape[0], dtype=torch.bool, device=y.device)
        if n_cols is not None:
            allowed = cols < torch.as_tensor(n_cols, device=y.device)[:, None]
        if cfg.start_alignment:
            c0 = ot.cost_matrix(*self._cost_inputs(x[:, :1], y), cost=cfg.cost)[:, 0]  # [B, M]: first step
            j1 = c0.masked_fill(~allowed, float("inf")).argmin(-1)
            allowed = allowed & (cols >= j1[:, None])
        if cfg.solver == "exact":
            C = ot.cost_matrix(*self._cost_inputs(x, y), cost=cfg.cost)  # [B, N, M]
            plan = ot.emd_matrix(C, batch.a, allowed.to(x.dtype))
            return (plan * C).sum(-1), plan
        res = ot.sinkhorn(
            x, y, batch.a, allowed.to(x.dtype), eps=cfg.eps, cost=cfg.cost, tol=cfg.tol, max_iter=cfg.max_iter,
            backend=cfg.backend, eps_scaling=cfg.eps_scaling, return_plan=return_plan,
        )  # fmt: skip
        return res.row_cost, res.plan

    def relabel(self, trajectories: Iterable[Trajectory], *, progress: bool = False) -> list[Trajectory]:
        """The trajectories with ``rews`` replaced by OT rewards (environment rewards kept in
        ``infos["env_reward"]`` when present)."""
        trajs = list(trajectories)
        rewards = self.rewards(trajs, progress=progress)
        out = []
        for t, r in zip(trajs, rewards, strict=True):
            infos = dict(t.infos or {})
            if t.rews is not None:
                infos["env_reward"] = t.rews
            out.append(Trajectory(t.obs, t.acts, r.astype(np.float64), terminated=t.terminated, infos=infos))
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the settings, the encoder and the expert features to ``path`` (one torch file of tensors
        and plain values), atomically."""
        if not self.experts:
            raise ValueError(f"{type(self).__name__}.save: no expert set; call set_expert(...) first")
        payload = {
            "kind": type(self).__name__,
            "config": asdict(self.config),
            "obs_key": self.obs_key,
            "encoder": self.encoder.to_payload(),
            "experts": [e.detach().cpu() for e in self.experts],
        }
        return save_checkpoint(path, payload)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device | None = None) -> OTRewarder:
        """Load a rewarder saved with :meth:`save`, ready to reward (its expert set), on ``device``
        (default: the CPU). Nothing in the file is executed (``weights_only=True``)."""
        func = f"{cls.__name__}.load"
        data = load_checkpoint(path, func=func, what="rewarder file")
        target = OTRewarder._registry.get(data.get("kind", ""))
        if target is None or not issubclass(target, cls):
            raise ValueError(f"{func}: {str(path)!r} holds a {data.get('kind')!r}, not a {cls.__name__}")
        try:
            encoder = Encoder.from_payload(data["encoder"], device=device, func=func)
            rewarder = target.__new__(target)
            OTRewarder.__init__(
                rewarder,
                encoder,
                config=OTRewardConfig(**data["config"]),
                obs_key=data["obs_key"],
                device=device,
            )
            rewarder.experts = [e.to(rewarder.device) for e in data["experts"]]
        except (KeyError, TypeError) as err:
            raise ValueError(f"{func}: {str(path)!r} is an incomplete rewarder file ({err!r})") from None
        return rewarder

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(encoder={self.encoder!r}, cost={self.cost!r}, k={self.k}, eps={self.eps}, "
            f"alpha={self.alpha}, scale={self.scale}, start_alignment={self.start_alignment}, "
            f"aggregation={self.aggregation!r}, solver={self.solver!r}, experts={len(self.experts)})"
        )


OTRewarder._registry["OTRewarder"] = OTRewarder


def _tensor_observations(items: list[torch.Tensor], func: str, what: str) -> list[torch.Tensor]:
    """Tensor observations, checked: each ``[T+1, obs_dim]`` with ``T >= 1``, finite, one obs_dim."""
    for i, t in enumerate(items):
        if t.ndim != 2 or t.shape[0] < 2:
            raise ValueError(
                f"{func}: {what}[{i}] must be observations [T+1, obs_dim] with T >= 1; got {tuple(t.shape)}"
            )
        if t.shape[1] != items[0].shape[1]:
            raise ValueError(
                f"{func}: {what}[{i}] has obs_dim {t.shape[1]} but {what}[0] has {items[0].shape[1]}"
            )
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{func}: {what}[{i}] must be finite; got NaN or inf")
    return items


class AILOTRewarder(OTRewarder):
    """AILOT (Bobrin et al. 2024): squared Euclidean OT between ICVF intent pairs ``[psi(s_i),
    psi(s_i+k)]``, start-aligned expert, best expert, ``r_i = alpha * exp(-tau * T * c_i)``.

    The defaults (k 2, tau 1, eps 0.01) come from the ablation in ``docs/benchmarks.md``
    (``benchmarks/ailot_ablation.py``). ``alpha`` cancels under IQL's reward scaling.
    """

    def __init__(
        self,
        encoder: Encoder,
        *,
        k: int = 2,
        alpha: float = 1.0,
        tau: float = 1.0,
        eps: float = 0.01,
        obs_key: str | None = None,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> None:
        config = OTRewardConfig(
            cost="sqeuclidean", pair_offset_k=k, eps=eps, alpha=alpha, scale=tau, start_alignment=True,
            aggregation="best", **kwargs,
        )  # fmt: skip
        super().__init__(encoder, config=config, obs_key=obs_key, device=device)


class OTRRewarder(OTRewarder):
    """OTR (Luo et al. 2023): cosine OT on raw observations, eps 0.01, best single expert,
    ``r_i = alpha * exp(-beta * T / obs_dim * c_i)`` with ``alpha = beta = 5`` (their MuJoCo setting).

    Two departures from the official code, both documented: their ``T`` is the fixed episode length
    1000, ours each trajectory's own length (the same for full-length episodes); they stop Sinkhorn at
    100 iterations, we run to the engine's marginal tolerance (a more accurate plan, no slower here).
    """

    def __init__(
        self,
        *,
        alpha: float = 5.0,
        beta: float = 5.0,
        eps: float = 0.01,
        obs_key: str | None = None,
        encoder: Encoder | None = None,
        device: str | torch.device | None = None,
        **kwargs: Any,
    ) -> None:
        config = OTRewardConfig(
            cost="cosine", pair_offset_k=0, eps=eps, alpha=alpha, scale=beta, scale_per_dim=True,
            start_alignment=False, aggregation="best", **kwargs,
        )  # fmt: skip
        super().__init__(encoder, config=config, obs_key=obs_key, device=device)

    @property
    def beta(self) -> float:
        return self.config.scale


def iql_reward_scale(returns: Sequence[float]) -> float:
    """IQL's (and OTR's) reward scale before training: ``1000 / (max return - min return)``."""
    spread = float(np.max(returns) - np.min(returns))
    return 1000.0 / spread if spread > 0 else 1.0


def relabel_for_offline(
    trajectories: Iterable[Trajectory],
    rewarder: OTRewarder,
    *,
    postprocess: Literal["iql"] | None = "iql",
    progress: bool = False,
) -> tuple[list[Trajectory], float]:
    """OT-relabelled trajectories and the reward scale applied to them.

    ``postprocess="iql"`` multiplies the OT rewards by ``1000 / (max - min episode return)`` over the
    relabelled set: IQL's locomotion normalisation, which OTR (and AILOT after it) apply before IQL.
    The dataset's own rewards stay in ``infos["env_reward"]``.
    """
    if postprocess not in ("iql", None):
        raise ValueError(f"postprocess: expected 'iql' or None; got {postprocess!r}")
    relabelled = rewarder.relabel(trajectories, progress=progress)
    if postprocess is None:
        return relabelled, 1.0
    scale = iql_reward_scale([float(t.rews.sum()) for t in relabelled])  # type: ignore[union-attr]
    scaled = [
        Trajectory(t.obs, t.acts, t.rews * scale, terminated=t.terminated, infos=t.infos)  # type: ignore[operator]
        for t in relabelled
    ]
    return scaled, scale

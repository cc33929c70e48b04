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
from collections.abc import Iterable, Sequence
from typing import Any, Literal, overload

import numpy as np
import torch
from tqdm.auto import tqdm

from sb3_ot import ot
from sb3_ot.data.trajectory import Trajectory
from sb3_ot.encoders.base import Encoder, IdentityEncoder, NormalizedStateEncoder, stack_observations

__all__ = [
    "AILOTRewarder",
    "OTRRewarder",
    "OTRewarder",
    "as_trajectories",
    "iql_reward_scale",
    "relabel_for_offline",
]


def as_trajectories(expert: Any, *, func: str, obs_key: str | None = None) -> list[Trajectory]:
    """Expert demonstrations as trajectories: Trajectory(s), observation arrays ``[T+1, obs_dim]``, or
    a local Minari dataset id / MinariDataset (all its episodes)."""
    import minari

    from sb3_ot.data import load_trajectories

    if isinstance(expert, str | os.PathLike | minari.MinariDataset):
        return load_trajectories(expert)
    if isinstance(expert, Trajectory):
        return [expert]
    if isinstance(expert, np.ndarray | torch.Tensor):
        expert = [expert] if expert.ndim == 2 else list(expert)
    items = list(expert)
    if not items:
        raise ValueError(f"{func}: expert must hold at least one trajectory; got none")
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Trajectory):
            out.append(item)
            continue
        arr = np.asarray(item.cpu() if isinstance(item, torch.Tensor) else item)
        if arr.ndim != 2:
            raise ValueError(
                f"{func}: expert[{i}] must be observations [T+1, obs_dim]; got shape {arr.shape}"
            )
        try:
            out.append(Trajectory(arr, None, terminated=False))
        except ValueError as err:
            raise ValueError(f"{func}: expert[{i}]: {err}") from err
    return out


class OTRewarder:
    """Per-step OT rewards against expert demonstrations (the shared core of AILOT and OTR).

    Parameters
    ----------
    encoder : Encoder or None
        Features the cost is computed in. ``None``: raw observations (:class:`IdentityEncoder`).
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
    obs_key : str or None
        Key of dict observations (default ``"observation"``).
    solver : {"sinkhorn", "exact"}
        ``"sinkhorn"``: the entropic plan at ``eps`` (:func:`sb3_ot.ot.sinkhorn`, batched, GPU/KeOps).
        ``"exact"``: the unregularised plan (:func:`sb3_ot.ot.emd_matrix`, POT's network simplex, one
        CPU solve per trajectory), faster for short trajectories (a few hundred steps) at small eps;
        the causal ``mode="step"`` reward's default.
    tol, max_iter, backend, eps_scaling : float, int, str, float or None
        Passed to :func:`sb3_ot.ot.sinkhorn`. ``eps_scaling`` anneals eps from the cost range down:
        costs spanning many times eps (states far from a near-static expert) then converge in tens of
        iterations instead of hundreds.
    batch_size : int
        Agent trajectories per engine call.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        cost: Literal["sqeuclidean", "cosine"] = "sqeuclidean",
        pair_offset_k: int = 0,
        eps: float = 0.01,
        alpha: float = 1.0,
        scale: float = 1.0,
        start_alignment: bool = False,
        aggregation: Literal["best", "mean"] = "best",
        obs_key: str | None = None,
        tol: float = 1e-4,
        max_iter: int = 10_000,
        backend: str = "auto",
        batch_size: int = 32,
        solver: Literal["sinkhorn", "exact"] = "sinkhorn",
        eps_scaling: float | None = None,
    ) -> None:
        if solver not in ("sinkhorn", "exact"):
            raise ValueError(f"solver: expected 'sinkhorn' or 'exact'; got {solver!r}")
        if cost not in ("sqeuclidean", "cosine"):
            raise ValueError(f"cost: expected 'sqeuclidean' or 'cosine'; got {cost!r}")
        if aggregation not in ("best", "mean"):
            raise ValueError(f"aggregation: expected 'best' or 'mean'; got {aggregation!r}")
        if not isinstance(pair_offset_k, int) or pair_offset_k < 0:
            raise ValueError(f"pair_offset_k: expected a non-negative int; got {pair_offset_k!r}")
        for name, value in (("eps", eps), ("scale", scale)):
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name}: expected a positive finite float; got {value!r}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int; got {batch_size!r}")
        self.encoder = encoder if encoder is not None else IdentityEncoder(obs_key=obs_key)
        self.cost, self.k, self.eps, self.alpha, self.scale = (
            cost,
            pair_offset_k,
            float(eps),
            float(alpha),
            float(scale),
        )
        self.start_alignment, self.aggregation, self.obs_key = start_alignment, aggregation, obs_key
        self.tol, self.max_iter, self.backend, self.batch_size = tol, max_iter, backend, batch_size
        self.solver, self.eps_scaling = solver, eps_scaling
        self.experts: list[np.ndarray] = []  # expert features [M_e, F]

    # ------------------------------------------------------------------ features
    def features(self, obs: np.ndarray) -> np.ndarray:
        """Row features of one trajectory's observations ``[T+1, obs_dim]`` -> ``[T, F]`` (float32)."""
        z = self.encoder.encode(obs)  # [T+1, d]
        n = len(z) - 1
        rows = z[:n]
        if self.k > 0:
            rows = np.concatenate([rows, z[np.minimum(np.arange(n) + self.k, n)]], axis=1)
        if self.cost == "sqeuclidean":
            rows = rows / np.sqrt(rows.shape[1])  # |x - y|^2 / D
        return np.ascontiguousarray(rows, dtype=np.float32)

    def set_expert(self, expert: Any) -> OTRewarder:
        """Set the expert demonstrations: Trajectory(s), observation arrays ``[T+1, obs_dim]`` or a local
        Minari dataset id. An unfitted :class:`IdentityEncoder` or :class:`NormalizedStateEncoder` is
        fitted on them. Returns ``self``."""
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
    def _cost_inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x``, ``y`` as :func:`sb3_ot.ot.cost_matrix` wants them: unit vectors for the cosine cost."""
        if self.cost == "cosine":
            return torch.nn.functional.normalize(x, dim=-1), torch.nn.functional.normalize(y, dim=-1)
        return x, y

    def _solve(
        self, x: torch.Tensor, a: torch.Tensor, y: torch.Tensor, n_cols: np.ndarray | None = None
    ) -> torch.Tensor:
        """Row costs ``[B, N]`` of agent batch ``x [B, N, F]`` (weights ``a``) against expert ``y [M, F]``,
        each batch item restricted to the expert's first ``n_cols[b]`` steps when given."""
        m = y.shape[0]
        cols = torch.arange(m)[None]
        allowed = torch.ones(x.shape[0], m, dtype=torch.bool)
        if n_cols is not None:
            allowed = cols < torch.from_numpy(np.asarray(n_cols))[:, None]
        if self.start_alignment:
            c0 = ot.cost_matrix(*self._cost_inputs(x[:, :1], y), cost=self.cost)[:, 0]  # [B, M]: first step
            j1 = c0.masked_fill(~allowed, float("inf")).argmin(-1)
            allowed = allowed & (cols >= j1[:, None])
        if self.solver == "exact":
            C = ot.cost_matrix(*self._cost_inputs(x, y), cost=self.cost)  # [B, N, M]
            return (ot.emd_matrix(C, a, allowed.to(x.dtype)) * C).sum(-1)
        res = ot.sinkhorn(
            x,
            y,
            a,
            allowed.to(x.dtype),
            eps=self.eps,
            cost=self.cost,
            tol=self.tol,
            max_iter=self.max_iter,
            backend=self.backend,
            eps_scaling=self.eps_scaling,
        )
        return res.row_cost

    def rewards(
        self, trajectories: Iterable[Trajectory] | Trajectory, *, progress: bool = False
    ) -> list[np.ndarray]:
        """Per-step rewards ``[T]`` (float32) of each trajectory, in order.

        Raises
        ------
        ValueError
            If no expert is set, or trajectories are empty, hold NaN, or do not match the expert's
            observation size or key.
        """
        trajs = [trajectories] if isinstance(trajectories, Trajectory) else list(trajectories)
        return self._label(self._checked_features(trajs, "rewards", "trajectories"), None, progress)

    @overload
    def prefix_rewards(self, prefixes: Sequence[Any], *, last_only: Literal[True] = ...) -> np.ndarray: ...

    @overload
    def prefix_rewards(self, prefixes: Sequence[Any], *, last_only: Literal[False]) -> list[np.ndarray]: ...

    def prefix_rewards(
        self, prefixes: Sequence[Any], *, last_only: bool = True
    ) -> np.ndarray | list[np.ndarray]:
        """Causal rewards: for each prefix ``s_0 .. s_t`` (observations ``[t+1, obs_dim]``, a dict of them
        or a Trajectory), its ``t`` rows are transported onto the expert's first ``min(t, M)`` rows
        (progress-matched), with the same features, alignment, squashing and aggregation as
        :meth:`rewards`.

        Returns ``[len(prefixes)]`` float32, the reward of each prefix's last transition
        (``last_only=True``: ``OTRewardWrapper(mode="step")``'s reward), or each prefix's rewards ``[t]``
        (``last_only=False``: how the SB3 callback rewards an episode still running when PPO's rollout
        ends). It needs no future states; a prefix of length ``t`` costs one ``t x min(t, M)`` OT problem.
        """
        trajs = [p if isinstance(p, Trajectory) else Trajectory(p, None, terminated=False) for p in prefixes]
        if not trajs:
            return np.zeros(0, np.float32) if last_only else []
        # pairs (s_i, s_i+k) of a prefix may only look at states already seen: min(i + k, t)
        feats = self._checked_features(trajs, "prefix_rewards", "observations")
        rewards = self._label(feats, np.array([len(f) for f in feats]), False)
        if not last_only:
            return rewards
        return np.array([r[-1] for r in rewards], dtype=np.float32)

    def _checked_features(self, trajs: list[Trajectory], func: str, what: str) -> list[np.ndarray]:
        """Row features ``[T_b, F]`` of each trajectory, after checking an expert is set and the
        observation size matches it (errors name ``func`` and ``what``)."""
        if not self.experts:
            raise ValueError(f"{func}: no expert set; call set_expert(...) first")
        observations = stack_observations(trajs, self.obs_key, func)
        if observations[0].shape[1] != self.encoder.obs_dim:
            raise ValueError(
                f"{func}: {what} have obs_dim {observations[0].shape[1]} but the expert has "
                f"{self.encoder.obs_dim}"
            )
        return [self.features(o) for o in observations]

    def _label(self, feats: list[np.ndarray], n_cols: np.ndarray | None, progress: bool) -> list[np.ndarray]:
        """Rewards of feature rows ``[T_b, F]``; ``n_cols[b]``: expert steps item ``b`` may use (all if None)."""
        out: list[np.ndarray | None] = [None] * len(feats)
        order = np.argsort([len(f) for f in feats], kind="stable")  # similar lengths share a batch
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for batch in tqdm(batches, desc="OT rewards", disable=not progress, unit="batch"):
            lengths = np.array([len(feats[i]) for i in batch])
            n = int(lengths.max())
            x = np.zeros((len(batch), n, feats[batch[0]].shape[1]), np.float32)
            for row, i in enumerate(batch):
                x[row, : lengths[row]] = feats[i]
            mask = torch.from_numpy(np.arange(n)[None] < lengths[:, None])
            xt, a = torch.from_numpy(x), mask.float()
            per_expert = []
            for y in self.experts:
                cols = None if n_cols is None else np.minimum(n_cols[batch], len(y))
                row_cost = self._solve(xt, a, torch.from_numpy(y), cols).cpu().numpy()  # [B, N], mass 1/T
                per_expert.append(self.alpha * np.exp(-self.scale * lengths[:, None] * row_cost))
            r = np.stack(per_expert)  # [E, B, N]
            r = np.where(mask.numpy()[None], r, 0.0)
            if self.aggregation == "best":
                best = r.sum(-1).argmax(0)  # [B]
                r = r[best, np.arange(len(batch))]
            else:
                r = r.mean(0)
            for row, i in enumerate(batch):
                out[i] = r[row, : lengths[row]].astype(np.float32)
        return out  # type: ignore[return-value]

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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(encoder={self.encoder!r}, cost={self.cost!r}, k={self.k}, eps={self.eps}, "
            f"alpha={self.alpha}, scale={self.scale}, start_alignment={self.start_alignment}, "
            f"aggregation={self.aggregation!r}, solver={self.solver!r}, experts={len(self.experts)})"
        )


class AILOTRewarder(OTRewarder):
    """AILOT (Bobrin et al. 2024): squared Euclidean OT between ICVF intent pairs ``[psi(s_i),
    psi(s_i+k)]``, start-aligned expert, best expert, ``r_i = alpha * exp(-tau * T * c_i)``.

    The defaults (k 2, tau 1, eps 0.01) come from the ablation in ``docs/benchmarks.md``
    (``benchmarks/ailot_ablation.py``). k 4 ranked episodes no worse; k 1 and k 8 and tau 10 ranked them
    worse; eps from 0.003 to 0.1 made no difference. ``alpha`` cancels under IQL's reward scaling.
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
        **kwargs: Any,
    ) -> None:
        super().__init__(
            encoder,
            cost="sqeuclidean",
            pair_offset_k=k,
            eps=eps,
            alpha=alpha,
            scale=tau,
            start_alignment=True,
            aggregation="best",
            obs_key=obs_key,
            **kwargs,
        )


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
        **kwargs: Any,
    ) -> None:
        self.beta = float(beta)
        super().__init__(
            encoder,
            cost="cosine",
            pair_offset_k=0,
            eps=eps,
            alpha=alpha,
            scale=beta,
            start_alignment=False,
            aggregation="best",
            obs_key=obs_key,
            **kwargs,
        )

    def set_expert(self, expert: Any) -> OTRRewarder:
        super().set_expert(expert)
        self.scale = self.beta / float(self.encoder.dim)  # beta * T / obs_dim, with T applied per row
        return self


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

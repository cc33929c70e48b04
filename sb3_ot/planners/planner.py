"""ZILOT's planner and its two myopic baselines on one :class:`~sb3_ot.planners.GoalModel`.

* ``"zilot"`` (Rupf et al. 2025): iCEM chooses the action sequence whose states, the episode's real
  ones so far plus the planned ones, are closest in OT to the expert's goal sequence. The cost of state
  ``s`` and goal ``g`` is ``clamp(-V(s, g), 0) / value_scale`` in ``[0, 1]`` (how many steps apart, as a
  fraction of the longest); rows are the real states ``s_0 .. s_k`` and the planned ``f_1 .. f_H'``,
  columns the goals the expert could have reached by then; uniform weights; the objective is ``-<P, C>``
  of the entropic plan (``sb3_ot.ot.sinkhorn_matrix``, eps 0.02, batched over the whole population).
  The goal window: with ``t_j`` the expert's time to goal ``j`` (``-V(s_0, g_0)`` then ``-W(g_i,
  g_i+1)`` summed), goal ``j`` is kept while ``t_j-1 < k + H``, and the plan uses ``H' = clamp(t_last - k,
  1, H)`` planned states (the expert would be done by then).
* ``"mpc+cls"``: the same iCEM on one goal at a time, ``-1`` per planned step until a classifier on
  ``V`` says the goal is reached (``-V <= threshold`` steps), ``V(z_H, g)`` after the last step.
* ``"pi+cls"``: the model's goal-conditioned policy on the current goal.

Both baselines move to the next goal when the classifier fires on the current real state. Facts from
the official code (martius-lab/zilot, ``common/objectives.py``); one deliberate change: the official
row weights give mass to ``f_1 .. f_H'-1`` only (so the last planned state never counts, an
off-by-one), here ``f_1 .. f_H'`` count.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from sb3_ot._args import check_choice, check_float, check_int, with_overrides
from sb3_ot.ot import sinkhorn_matrix
from sb3_ot.planners.icem import ICEMConfig, icem
from sb3_ot.planners.model import GoalModel

__all__ = ["METHODS", "Planner", "PlannerConfig"]

#: The planners: ZILOT and the paper's two myopic baselines.
METHODS = ("zilot", "mpc+cls", "pi+cls")


@dataclass(frozen=True)
class PlannerConfig:
    """Planner settings (defaults: the official ZILOT config; ``sinkhorn_iters=500`` is its fixed count,
    None runs each solve to ``sinkhorn_tol``)."""

    method: str = "zilot"
    population: int = 512
    elites: int = 6
    iterations: int = 4
    horizon: int = 16
    beta: float = 2.0
    momentum: float = 0.1
    init_std: float = 0.5
    eps: float = 0.02
    sinkhorn_iters: int | None = None
    sinkhorn_tol: float = 1e-3
    threshold: float = 5.0

    def __post_init__(self) -> None:
        func = "PlannerConfig"
        check_choice(self.method, "method", func, METHODS)
        self.icem  # noqa: B018 -- validates the iCEM fields
        check_float(self.eps, "eps", func)
        check_float(self.sinkhorn_tol, "sinkhorn_tol", func)
        check_float(self.threshold, "threshold", func, low=0.0, low_open=False)
        if self.sinkhorn_iters is not None:
            object.__setattr__(self, "sinkhorn_iters", check_int(self.sinkhorn_iters, "sinkhorn_iters", func))

    @property
    def icem(self) -> ICEMConfig:
        names = ("population", "elites", "iterations", "horizon", "beta", "momentum", "init_std")
        return ICEMConfig(**{k: getattr(self, k) for k in names})


@dataclass
class _Track:
    """One env's episode: its goals, the expert's times to them, the real latents so far, the warm start."""

    goals: torch.Tensor  # [T, L] goal latents
    psi: torch.Tensor  # [T, L] psi of the goals (V's goal half, fixed for the episode)
    g_time: torch.Tensor | None = None  # [T] the expert's time to each goal, set at the first step
    hist_v: list[torch.Tensor] = field(default_factory=list)  # V(s_j, goals) [T] in steps, per real state
    goal_idx: int = 0  # the baselines' current goal
    elites: torch.Tensor | None = None  # [elites, H, A]
    plan: torch.Tensor | None = None  # [H, A] the last step's best sequence (its first action was taken)


class Planner:
    """Plans actions for several envs at once; each env follows its own goal sequence.

    Parameters
    ----------
    model : GoalModel
        A fitted goal model (its device is where planning runs).
    config : PlannerConfig or None
        Settings; keyword overrides (``method="mpc+cls"``, ``population=256``) are accepted too.
    seed : int
        Seeds the iCEM samples.

    Call :meth:`reset` for an env when its episode starts, then :meth:`act` with every env's observation.
    :attr:`timings` accumulates the seconds spent planning and, of those, in OT.
    """

    def __init__(
        self, model: GoalModel, config: PlannerConfig | None = None, *, seed: int = 0, **overrides
    ) -> None:
        self.config = with_overrides(config or PlannerConfig(), overrides, "Planner")
        self.nets = model._require_fit("Planner")
        self.model = model
        self.seed = check_int(seed, "seed", "Planner", minimum=0)
        self.generator = torch.Generator(device=model.device).manual_seed(self.seed)
        self.tracks: dict[int, _Track] = {}
        self.timings = {"plan": 0.0, "ot": 0.0, "steps": 0}
        self.problems: list[tuple[torch.Tensor, ...]] | None = None  # a list: every OT batch (C, a, b) kept

    @torch.no_grad()
    def reset(self, env_index: int, goals: np.ndarray) -> None:
        """Start env ``env_index``'s episode towards ``goals [T, goal_dim]`` (checked by the caller)."""
        zg = self.model.encode_goal(torch.as_tensor(np.asarray(goals, np.float32), device=self.model.device))
        self.tracks[env_index] = _Track(goals=zg, psi=self.nets.psi(zg))

    @torch.no_grad()
    def act(self, obs: np.ndarray, env_indices: list[int] | None = None) -> np.ndarray:
        """Actions ``[E, act_dim]`` in ``[-1, 1]`` for observations ``obs [E, obs_dim]`` of the envs
        ``env_indices`` (default ``0 .. E-1``), each of which must have been :meth:`reset`."""
        t0 = time.perf_counter()
        idx = list(range(len(obs))) if env_indices is None else list(env_indices)
        z = self.model.encode(torch.as_tensor(np.asarray(obs, np.float32), device=self.model.device))
        tracks = [self.tracks[i] for i in idx]
        for track, z_i in zip(tracks, z, strict=True):
            self._observe(track, z_i)
        if self.config.method == "pi+cls":
            goals = torch.stack([t.goals[t.goal_idx] for t in tracks])
            actions = self.nets.policy(z, goals)[0]
        else:
            actions = self._plan(tracks, z)
        self.timings["plan"] += time.perf_counter() - t0
        self.timings["steps"] += len(idx)
        return actions.cpu().numpy()

    def _observe(self, track: _Track, z: torch.Tensor) -> None:
        """Record a real state: its V row, the expert's times at the first one, the baselines' goal switch."""
        vs = self.model.config.value_scale
        v = self.nets.from_units((self.nets.phi(z) * track.psi).sum(-1)) * vs  # [T]
        track.hist_v.append(v)
        if track.g_time is None:
            w = self.nets.w_value(track.goals[:-1], track.goals[1:]) * vs  # [T-1]
            steps = torch.cat([(-v[:1]).clamp(min=0), (-w).clamp(min=0)])
            track.g_time = steps.cumsum(0)
        last = len(track.goals) - 1
        while track.goal_idx < last and -v[track.goal_idx] <= self.config.threshold:
            track.goal_idx += 1

    def _plan(self, tracks: list[_Track], z: torch.Tensor) -> torch.Tensor:
        """iCEM over all envs at once; the first action of each env's best sequence ``[E, A]``."""
        cfg, E = self.config, len(tracks)
        warm = None
        if any(t.elites is not None for t in tracks):
            shape = (cfg.elites, cfg.horizon, self.model.dims["act"])
            warm = torch.stack([t.elites if t.elites is not None else z.new_zeros(shape) for t in tracks])

        def objective(actions: torch.Tensor) -> torch.Tensor:
            latents = self._rollout(z, actions)  # [E, P, H, L]
            if cfg.method == "zilot":
                return self._ot_values(tracks, latents)
            return self._myopic_values(tracks, z, latents)

        best, elites = icem(objective, E, self.model.dims["act"], cfg.icem, self.generator, z.device, warm)
        for track, e, b in zip(tracks, elites, best, strict=True):
            track.elites, track.plan = e, b
        return best[:, 0]

    def _rollout(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Latents ``[E, P, H, L]`` after each action of ``actions [E, P, H, A]`` from ``z [E, L]``."""
        E, P, H, _ = actions.shape
        state, out = z[:, None].expand(E, P, z.shape[-1]), []
        for h in range(H):
            state = self.nets.step(state, actions[:, :, h])
            out.append(state)
        return torch.stack(out, 2)

    def _ot_values(self, tracks: list[_Track], latents: torch.Tensor) -> torch.Tensor:
        """``-<P, C>`` per sequence ``[E, P]``: every env's problems padded to one batch of OT solves."""
        cfg, vs = self.config, self.model.config.value_scale
        E, P, H, _ = latents.shape
        phi = self.nets.phi(latents)  # [E, P, H, L]
        problems = [self._ot_problem(t, phi[e], H, vs) for e, t in enumerate(tracks)]
        rows = max(c.shape[1] for c, _, _ in problems)
        cols = max(c.shape[2] for c, _, _ in problems)
        C = latents.new_zeros(E, P, rows, cols)  # zero-weight padding: it carries no mass
        a, b = latents.new_zeros(E, P, rows), latents.new_zeros(E, P, cols)
        for e, (c, a_e, b_e) in enumerate(problems):
            C[e, :, : c.shape[1], : c.shape[2]] = c
            a[e, :, : len(a_e)], b[e, :, : len(b_e)] = a_e, b_e
        C, a, b = C.flatten(0, 1), a.flatten(0, 1), b.flatten(0, 1)
        if self.problems is not None:  # for benchmarks/zilot.py --sinkhorn: the very problems solved
            self.problems.append((C.clone(), a.clone(), b.clone()))
        t0 = time.perf_counter()
        result = sinkhorn_matrix(
            C,
            a,
            b,
            eps=cfg.eps,
            tol=cfg.sinkhorn_tol,
            n_iters=cfg.sinkhorn_iters,
        )
        self.timings["ot"] += time.perf_counter() - t0
        return -result.cost.view(E, P)

    def _ot_problem(
        self, track: _Track, phi: torch.Tensor, H: int, vs: float
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One env's costs ``[P, k+1+H, T']`` and weights: real rows, planned rows, the goal window."""
        assert track.g_time is not None
        k = len(track.hist_v) - 1
        keep = torch.ones_like(track.g_time, dtype=torch.bool)
        keep[1:] = track.g_time[:-1] < k + H  # goal j once the expert could have reached goal j-1
        h_used = int(math.floor(max(1.0, min(float(H), float(track.g_time[-1]) - k))))
        past = torch.stack(track.hist_v)[:, keep]  # [k+1, T']
        planned = self.nets.from_units(phi @ track.psi[keep].T) * vs  # [P, H, T']
        values = torch.cat([past.expand(len(phi), *past.shape), planned], 1)
        cost = ((-values).clamp(min=0.0) / vs).clamp(max=1.0)
        a = values.new_zeros(k + 1 + H)
        a[: k + 1 + h_used] = 1.0 / (k + 1 + h_used)
        b = values.new_full((int(keep.sum()),), 1.0 / int(keep.sum()))
        return cost, a, b

    def _myopic_values(self, tracks: list[_Track], z: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """MPC+Cls: ``-1`` per step until the classifier fires on the current goal, then nothing;
        ``V(z_H, g)`` if it never does ``[E, P]``."""
        E, P, H, _ = latents.shape
        vs, threshold = self.model.config.value_scale, self.config.threshold
        psi = torch.stack([t.psi[t.goal_idx] for t in tracks])  # [E, L]
        states = torch.cat([z[:, None, None].expand(E, P, 1, z.shape[-1]), latents], 2)  # [E, P, H+1, L]
        v = self.nets.from_units((self.nets.phi(states) * psi[:, None, None]).sum(-1)) * vs  # [E, P, H+1]
        reached = (-v <= threshold).int().cummax(-1).values.bool()
        rewards = torch.cat([v.new_full((E, P, H), -1.0), v[..., -1:]], -1)
        return (rewards * ~reached).sum(-1)

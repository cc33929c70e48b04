"""``ZILOTPolicy``: ZILOT (or a myopic baseline) as an SB3 policy, so ``evaluate_policy`` just works.

SB3's :func:`~stable_baselines3.common.evaluation.evaluate_policy` calls ``policy.predict(obs, state,
episode_start, deterministic)`` with ``episode_start`` True for each env whose episode just began; SB3's
own ``BasePolicy.predict`` drops that flag before ``_predict``, so a planner, whose state is per episode
(the real states so far, the goal progress, the warm start), overrides ``predict`` and resets the envs
it names. Observations are a goal env's dicts (``"observation"``, ``"achieved_goal"``); the expert is
a sequence of goals in achieved-goal space, set with :meth:`ZILOTPolicy.set_expert`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from sb3_ot._args import check_int
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.planners.model import GoalModel
from sb3_ot.planners.planner import Planner, PlannerConfig

__all__ = ["ZILOTPolicy"]

_FORMAT = "sb3_ot.zilot_policy"


def _check_spaces(model: GoalModel, observation_space: Any, action_space: Any) -> None:
    """The env's spaces against the model's sizes: a model of another env is refused here."""
    func = "ZILOTPolicy"
    if not isinstance(observation_space, spaces.Dict) or not {"observation", "achieved_goal"} <= set(
        observation_space.spaces
    ):
        raise ValueError(
            f"{func}: observation_space must be a goal env's Dict with 'observation' and 'achieved_goal'; "
            f"got {observation_space}"
        )
    for key, dim in (("observation", model.dims["obs"]), ("achieved_goal", model.dims["goal"])):
        shape = observation_space[key].shape
        if shape != (dim,):
            raise ValueError(
                f"{func}: observation_space[{key!r}] has shape {shape}; the goal model ({model.env_id}) was "
                f"trained on ({dim},): a model of another env?"
            )
    if not isinstance(action_space, spaces.Box) or action_space.shape != (model.dims["act"],):
        raise ValueError(
            f"{func}: action_space must be a Box of shape ({model.dims['act']},) (the goal model's); got "
            f"{action_space}"
        )


class ZILOTPolicy(BasePolicy):
    """Zero-shot imitation of a goal sequence by planning in a :class:`GoalModel` (an SB3 policy).

    Parameters
    ----------
    model : GoalModel
        A fitted goal model of the env (:meth:`GoalModel.fit`).
    observation_space, action_space : gymnasium spaces
        The env's (a goal env's Dict; a Box); checked against the model's sizes.
    config : PlannerConfig or None
        ``method`` (``"zilot"``, ``"mpc+cls"``, ``"pi+cls"``) and the iCEM / OT settings; keyword
        overrides are accepted too.
    seed : int
        Seeds the planner's samples.

    Use: ``policy.set_expert(goals)``, then ``evaluate_policy(policy, vec_env)`` or
    ``policy.predict(obs, episode_start=...)``. Actions are planned in ``[-1, 1]`` and scaled to the
    action space's bounds.
    """

    def __init__(
        self,
        model: GoalModel,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        config: PlannerConfig | None = None,
        seed: int = 0,
        **overrides: Any,
    ) -> None:
        model._require_fit("ZILOTPolicy")
        _check_spaces(model, observation_space, action_space)
        super().__init__(observation_space, action_space)
        self.goal_model = model
        self.nets = model.nets  # a submodule: .to(device) and state_dict() reach the networks
        self.planner = Planner(model, config, seed=seed, **overrides)
        self._experts: list[np.ndarray] = []
        self._started: set[int] = set()

    @property
    def config(self) -> PlannerConfig:
        return self.planner.config

    def set_expert(self, goals: Any) -> ZILOTPolicy:
        """The expert's goals: one sequence ``[T, goal_dim]`` for every env, or a list of them (env ``i``
        follows the ``i``-th). Every env starts a fresh episode at its next :meth:`predict`."""
        func, dim = "ZILOTPolicy.set_expert", self.goal_model.dims["goal"]
        many = isinstance(goals, list | tuple) and len(goals) > 0 and np.ndim(goals[0]) == 2
        seqs = list(goals) if many else [goals]
        out = []
        for i, g in enumerate(seqs):
            name = f"goals[{i}]" if many else "goals"
            arr = np.asarray(g, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != dim:
                raise ValueError(
                    f"{func}: {name} must have shape [T, {dim}] (the achieved goal's); got {arr.shape}"
                )
            if len(arr) == 0:
                raise ValueError(f"{func}: {name} is empty; the expert needs at least one goal")
            if not np.isfinite(arr).all():
                raise ValueError(f"{func}: {name} must be finite; got NaN or inf")
            out.append(arr)
        self._experts, self._started = out, set()
        return self

    def _goals_of(self, env: int) -> np.ndarray:
        if not self._experts:
            raise ValueError("ZILOTPolicy.predict: no expert goals; call set_expert(goals) first")
        if len(self._experts) == 1:
            return self._experts[0]
        if env >= len(self._experts):
            raise ValueError(
                f"ZILOTPolicy.predict: env {env} has no goal sequence; set_expert got {len(self._experts)}"
            )
        return self._experts[env]

    def predict(
        self,
        observation: dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Actions ``[n_envs, act_dim]`` (``[act_dim]`` for one unbatched observation). Envs with
        ``episode_start`` True, or never seen, start a new episode first. The planner is the same
        whether or not ``deterministic`` is set (its samples are seeded)."""
        obs, single = self._observations(observation)
        n = len(obs)
        starts = np.zeros(n, bool) if episode_start is None else np.asarray(episode_start, bool).reshape(n)
        for i in range(n):
            if starts[i] or i not in self._started:
                self.planner.reset(i, self._goals_of(i))
                self._started.add(i)
        actions = self.planner.act(obs)
        low, high = self.action_space.low, self.action_space.high
        actions = np.clip(low + (actions + 1.0) * 0.5 * (high - low), low, high).astype(
            self.action_space.dtype
        )
        return (actions[0] if single else actions), state

    def _observations(self, observation: Any) -> tuple[np.ndarray, bool]:
        """``observation["observation"]`` as ``[n_envs, obs_dim]`` and whether it came unbatched."""
        func, dim = "ZILOTPolicy.predict", self.goal_model.dims["obs"]
        if not isinstance(observation, dict) or "observation" not in observation:
            raise ValueError(
                f"{func}: observation must be a goal env's dict with 'observation'; got {type(observation)}"
            )
        obs = np.asarray(observation["observation"], dtype=np.float32)
        single = obs.ndim == 1
        obs = obs[None] if single else obs
        if obs.ndim != 2 or obs.shape[1] != dim:
            raise ValueError(f"{func}: observation['observation'] must be [n_envs, {dim}]; got {obs.shape}")
        if not np.isfinite(obs).all():
            raise ValueError(f"{func}: observation['observation'] must be finite; got NaN or inf")
        return obs, single

    def _predict(self, observation: Any, deterministic: bool = False) -> torch.Tensor:
        """SB3's hook (tensors in, tensors out); :meth:`predict` is the entry point that keeps episodes."""
        obs = {k: v.cpu().numpy() for k, v in observation.items()}
        return torch.as_tensor(self.predict(obs, deterministic=deterministic)[0])

    # --------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike[str]) -> Path:  # type: ignore[override]
        """Write the goal model, the planner settings, the expert goals and the spaces, atomically
        (tensors and plain values only: :meth:`load` runs no code from the file)."""
        return save_checkpoint(
            path,
            {
                "format": _FORMAT,
                "model": self.goal_model.state("ZILOTPolicy.save"),
                "planner": dict(vars(self.config)),
                "seed": self.planner.seed,
                "experts": [torch.from_numpy(e.copy()) for e in self._experts],
                "spaces": {
                    "observation": _space_state(self.observation_space),
                    "action": _space_state(self.action_space),
                },
            },
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | torch.device | None = None) -> ZILOTPolicy:  # type: ignore[override]
        """The policy written by :meth:`save`, on ``device`` (None: the CPU)."""
        func = "ZILOTPolicy.load"
        state = load_checkpoint(path, func=func, what="ZILOT policy file")
        if state.get("format") != _FORMAT:
            raise ValueError(f"{func}: {str(path)!r} is not a ZILOT policy (format {state.get('format')!r})")
        model = GoalModel.from_state(state["model"], device, where=repr(str(path)), func=func)
        sp = state["spaces"]
        policy = cls(
            model,
            _space_of(sp["observation"]),
            _space_of(sp["action"]),
            config=PlannerConfig(**state["planner"]),
            seed=check_int(state["seed"], "seed", func, minimum=0),
        )
        if state["experts"]:
            policy.set_expert([e.numpy() for e in state["experts"]])
        return policy


def _space_state(space: spaces.Space) -> dict[str, Any]:
    """A Box or a Dict of Boxes as tensors and strings (no pickled classes in the file)."""
    if isinstance(space, spaces.Dict):
        return {"dict": {k: _space_state(v) for k, v in space.spaces.items()}}
    assert isinstance(space, spaces.Box)
    return {
        "low": torch.from_numpy(space.low),
        "high": torch.from_numpy(space.high),
        "dtype": str(space.dtype),
    }


def _space_of(state: dict[str, Any]) -> spaces.Space:
    if "dict" in state:
        return spaces.Dict({k: _space_of(v) for k, v in state["dict"].items()})
    return spaces.Box(state["low"].numpy(), state["high"].numpy(), dtype=np.dtype(state["dtype"]))

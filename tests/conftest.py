"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sb3_ot.data import Trajectory


@pytest.fixture
def make_trajectory() -> Callable[..., Trajectory]:
    """Factory for small random trajectories.

    ``make_trajectory(T, terminated=..., obs_dim=3, act_dim=2, dict_obs=False, discrete=False,
    with_acts=True, with_rews=True, infos=False, seed=0)``: float obs ``[T+1, obs_dim]`` (or a
    goal-conditioned dict), float32 acts ``[T, act_dim]`` (int64 ``[T]`` in ``0..3`` if discrete),
    float64 rews ``[T]``, and with ``infos`` an int64 ``step`` and a float ``success`` info.
    """

    def make(
        n_steps: int,
        *,
        terminated: bool = False,
        obs_dim: int = 3,
        act_dim: int = 2,
        dict_obs: bool = False,
        discrete: bool = False,
        with_acts: bool = True,
        with_rews: bool = True,
        infos: bool = False,
        seed: int = 0,
    ) -> Trajectory:
        rng = np.random.default_rng(seed)
        if dict_obs:
            obs: np.ndarray | dict[str, np.ndarray] = {
                "observation": rng.normal(size=(n_steps + 1, obs_dim)),
                "achieved_goal": rng.normal(size=(n_steps + 1, 2)).astype(np.float32),
                "desired_goal": rng.normal(size=(n_steps + 1, 2)).astype(np.float32),
            }
        else:
            obs = rng.normal(size=(n_steps + 1, obs_dim))
        acts = None
        if with_acts:
            acts = (
                rng.integers(0, 4, size=n_steps)
                if discrete
                else rng.uniform(-1, 1, size=(n_steps, act_dim)).astype(np.float32)
            )
        return Trajectory(
            obs,
            acts,
            rng.normal(size=n_steps) if with_rews else None,
            terminated=terminated,
            infos={"step": np.arange(n_steps), "success": rng.uniform(size=n_steps) > 0.5} if infos else None,
        )

    return make

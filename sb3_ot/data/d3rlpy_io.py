"""Convert :class:`~sb3_ot.data.Trajectory` lists to a d3rlpy ``MDPDataset``.

d3rlpy (imported lazily: it takes seconds to import) builds episodes from flat per-row arrays
``observations, actions, rewards, terminals, timeouts``: a row with ``terminals`` or ``timeouts`` set
closes an episode. An episode of ``N`` rows yields ``N`` transitions if it is terminal (the last one
with ``terminal = 1`` and a zero next observation) and ``N - 1`` if it timed out (the last row only
serves as the next observation of the one before). :func:`to_d3rlpy` lays rows out so that both
cases give exactly ``T`` transitions with the true next observations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from sb3_ot.data.trajectory import Trajectory, require_actions

if TYPE_CHECKING:
    from d3rlpy.dataset import MDPDataset

__all__ = ["to_d3rlpy"]


def to_d3rlpy(
    trajectories: Iterable[Trajectory],
    *,
    obs_key: str | None = None,
    reward_fn: Callable[[Trajectory], np.ndarray] | None = None,
) -> MDPDataset:
    """Build a d3rlpy ``MDPDataset`` with correct terminal / timeout handling.

    Row layout, per trajectory of ``T`` steps:

    * ``terminated=True``: ``T`` rows ``obs[0..T-1]``, ``acts``, ``rews``; ``terminals = 1`` on the
      last row. d3rlpy gives ``T`` transitions; transition ``t < T-1`` has next observation
      ``obs[t+1]``, the last has ``terminal = 1`` and a zero next observation (``obs[T]`` is not
      needed: nothing is bootstrapped past a terminal state).
    * ``terminated=False`` (timed out / truncated): ``T + 1`` rows ``obs[0..T]``, with a placeholder
      action (a copy of ``acts[T-1]``, always inside the action space) and reward ``0`` on the extra
      last row, and ``timeouts = 1`` there. d3rlpy drops the last row as a transition source, so it
      still gives exactly ``T`` transitions, all with ``terminal = 0`` and next observation
      ``obs[t+1]`` -- including the last one, whose next observation ``obs[T]`` is what a critic
      must bootstrap from. D4RL's layout (``T`` rows, timeout on the last) would make d3rlpy drop
      that last transition.

    The extra row is visible to trajectory slicers (Decision Transformer) as one step with zero
    reward, and its placeholder action is the ``next_action`` of the last transition.

    Parameters
    ----------
    trajectories : Iterable[Trajectory]
        At least one trajectory, all with actions, with rewards (or ``reward_fn``), and with the same
        per-step observation shape (of ``obs_key``) and action shape.
    obs_key : str or None
        For dict observations, the key to use (default ``"observation"``); must be ``None`` for
        array observations. To use several keys, build trajectories with the concatenation.
    reward_fn : Callable[[Trajectory], np.ndarray] or None
        If given, ``reward_fn(traj)`` (shape ``[T]``) replaces ``traj.rews`` -- e.g. an OT rewarder.

    Returns
    -------
    d3rlpy.dataset.MDPDataset
        ``transition_count == sum(T)``. Float observations become float32 (what d3rlpy trains on;
        other dtypes, e.g. uint8 images, are kept), actions float32 (continuous) or int64
        (discrete: integer ``acts``), rewards float32. The action space is set from the
        action dtype (d3rlpy's own guess looks at values only and calls float actions that happen to
        be whole numbers discrete).

    Raises
    ------
    ValueError
        If ``trajectories`` is empty; if ``trajectories[i].acts`` or ``.rews`` is ``None`` (without
        ``reward_fn``); if ``reward_fn`` returns a wrong shape or non-finite values; if shapes
        disagree across trajectories; or if ``obs_key`` does not fit the observations.
    """
    from d3rlpy.constants import ActionSpace
    from d3rlpy.dataset import MDPDataset

    trajectories = require_actions(
        trajectories,
        "to_d3rlpy",
        "offline RL needs actions (observation-only demonstrations are for the reward, not the dataset)",
    )
    columns: list[tuple[np.ndarray, ...]] = []
    obs_shape = act_shape = None
    for i, traj in enumerate(trajectories):
        try:
            obs = traj.observations(obs_key)
        except ValueError as err:
            raise ValueError(f"to_d3rlpy: trajectories[{i}]: obs_key={obs_key!r}: {err}") from err
        rews = _rewards(traj, i, reward_fn)
        if obs_shape is None:
            obs_shape, act_shape = obs.shape[1:], traj.acts.shape[1:]
        elif obs.shape[1:] != obs_shape or traj.acts.shape[1:] != act_shape:
            raise ValueError(
                f"to_d3rlpy: trajectories[{i}] has per-step obs shape {obs.shape[1:]} and acts shape "
                f"{traj.acts.shape[1:]}; trajectories[0] has {obs_shape} and {act_shape}"
            )
        columns.append(_rows(obs, traj.acts, rews, traj.terminated))

    observations, actions, rewards, terminals, timeouts = (
        np.concatenate(c) for c in zip(*columns, strict=True)
    )
    if np.issubdtype(observations.dtype, np.floating):
        observations = observations.astype(np.float32)
    discrete = np.issubdtype(actions.dtype, np.integer)
    return MDPDataset(
        observations=observations,
        actions=actions.astype(np.int64 if discrete else np.float32),
        rewards=rewards,
        terminals=terminals,
        timeouts=timeouts,
        action_space=ActionSpace.DISCRETE if discrete else ActionSpace.CONTINUOUS,
    )


def _rewards(traj: Trajectory, i: int, reward_fn: Callable[[Trajectory], np.ndarray] | None) -> np.ndarray:
    """``reward_fn(traj)`` (checked) or the trajectory's own rewards, as float32 ``[T]``."""
    if reward_fn is not None:
        rews = np.asarray(reward_fn(traj), dtype=np.float32)
        if rews.shape != (traj.n_steps,) or not np.all(np.isfinite(rews)):
            raise ValueError(
                f"to_d3rlpy: reward_fn(trajectories[{i}]) must return {traj.n_steps} finite rewards "
                f"(shape [T]); got shape {rews.shape}"
                + ("" if rews.shape != (traj.n_steps,) else " with non-finite values")
            )
        return rews
    if traj.rews is None:
        raise ValueError(
            f"to_d3rlpy: trajectories[{i}].rews is None; relabel rewards first or pass reward_fn"
        )
    return traj.rews.astype(np.float32)


def _rows(
    obs: np.ndarray, acts: np.ndarray, rews: np.ndarray, terminated: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One trajectory's rows ``(observations, actions, rewards, terminals, timeouts)``, laid out as
    :func:`to_d3rlpy` describes: ``T`` rows if terminated, ``T + 1`` (a placeholder last row) if not."""
    n = len(acts)
    flags = np.zeros(n if terminated else n + 1, dtype=np.float32)
    flags[-1] = 1.0
    if terminated:
        return obs[:n], acts, rews, flags, np.zeros_like(flags)
    return (
        obs,
        np.concatenate([acts, acts[-1:]]),
        np.concatenate([rews, np.zeros(1, dtype=np.float32)]),
        np.zeros_like(flags),
        flags,
    )

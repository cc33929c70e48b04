"""ZILOT's evaluation tasks and metrics (Rupf et al. 2025; official code martius-lab/zilot).

A task hands the agent a sequence of goals ``[T, G]`` to visit in order, in goal space (the block's 3D
position for Fetch, the point's xy for PointMaze), and a step budget. Every episode starts with the
object (Fetch) or the point (PointMaze) on the first goal; it runs for the whole budget, with no early
termination. Two metrics score it, from the expert goals and the achieved goals of the episode (the one
right after the reset included):

* ``W_min``: the smallest exact Wasserstein-1 distance (uniform weights, L2 ground cost) between the
  goals and a prefix of the achieved-goal history, over all prefixes;
* ``GoalFraction``: the length of the longest strictly increasing run of goal indices reached in turn
  (a goal is reached at a step when the achieved goal lies within ``threshold`` of it), divided by
  ``T``; the episode is a success when all ``T`` goals are reached in order.

The task set:

* Fetch (``FetchPush-v4``, ``FetchPickAndPlace-v4``): the shapes S, L and U on the table, each
  ``dense`` (a goal every ~0.05) or ``sparse`` (the segment end points); each shape has 4 variants
  (mirrored or reversed) and evaluation episode ``e`` uses variant ``e`` (``e % 4``).
* PointMaze (``PointMaze_Medium-v3``): ``circle`` (a loop) and ``path`` (a route across the maze), each
  ``dense`` or ``sparse``; every episode uses the same goals.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import gymnasium as gym
import numpy as np

from sb3_ot._args import check_choice, check_float, check_int
from sb3_ot.datasets.scripted import place_block

__all__ = [
    "TASK_FAMILIES",
    "GoalTask",
    "GoalTracker",
    "goal_fraction",
    "make_task",
    "make_tasks",
    "reset_to_first_goal",
    "run_task",
    "task_names",
    "w_min",
]

#: The env ids that have tasks, and the family of tasks each gets ("fetch" or "maze").
TASK_FAMILIES: Mapping[str, str] = MappingProxyType(
    {"FetchPush-v4": "fetch", "FetchPickAndPlace-v4": "fetch", "PointMaze_Medium-v3": "maze"}
)

_FAMILY_TASKS: dict[str, tuple[str, ...]] = {
    "fetch": ("S-dense", "S-sparse", "L-dense", "L-sparse", "U-dense", "U-sparse"),
    "maze": ("path-sparse", "path-dense", "circle-sparse", "circle-dense"),
}

# Fetch: the table range goals may lie in, shrunk by a margin so the block stays off the edge.
_FETCH_X, _FETCH_Y, _FETCH_MARGIN = (1.15, 1.4), (0.45, 1.05), 0.05
_FETCH_STEP, _FETCH_SLACK, _FETCH_THRESHOLD = 0.05, 8.0, 0.05
# a step this large collapses every segment to its end points: the sparse shapes
_SPARSE_STEP = 1e8
# PointMaze: the distance the point covers in one step at full speed, and a goal every 12 such steps
_MAZE_STEP, _MAZE_STRIDE, _MAZE_SLACK, _MAZE_THRESHOLD = 0.05203704163432121, 12, 2.0, 0.45
_MAZE_SHAPES: dict[str, tuple[tuple[float, float], ...]] = {
    "circle": (
        (-2.5, -2.5),
        (-0.5, -2.5),
        (-0.5, -1.5),
        (0.5, -1.5),
        (0.5, 0.5),
        (-1.5, 0.5),
        (-1.5, -0.5),
        (-2.5, -0.5),
        (-2.5, -2.5),
    ),
    "path": (
        (-2.5, 2.5),
        (-1.5, 1.5),
        (-1.5, 0.5),
        (0.5, 0.5),
        (0.5, -0.5),
        (2.5, -0.5),
        (2.5, -2.5),
        (1.5, -2.5),
    ),
}


def _as_points(value: Any, name: str, func: str, dim: int | None = None) -> np.ndarray:
    """``value`` as a finite float64 array ``[N, D]`` with ``N >= 1`` (and ``D == dim`` if given)."""
    try:
        points = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{func}: {name} must be a numeric array [N, D]; got {type(value).__name__}"
        ) from None
    if points.ndim != 2 or points.shape[0] < 1 or points.shape[1] < 1:
        raise ValueError(f"{func}: {name} must have shape [N, D] with N, D >= 1; got shape {points.shape}")
    if dim is not None and points.shape[1] != dim:
        raise ValueError(f"{func}: {name} must hold points of dimension {dim}; got shape {points.shape}")
    bad = ~np.isfinite(points)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{func}: {name} must be finite; got {points[index]} at index {index}")
    return points


@dataclass(frozen=True, eq=False)
class GoalTask:
    """One evaluation episode: goals to visit in order, a step budget and a success radius.

    Parameters
    ----------
    env_id : str
        The Gymnasium env id the goals are meant for (see :data:`TASK_FAMILIES`).
    name : str
        The task's name, e.g. ``"S-dense"`` or ``"path-sparse"``.
    goals : np.ndarray
        The goals, shape ``[T, G]`` with ``T >= 1``, in the env's ``achieved_goal`` space; stored as a
        read-only float64 copy.
    max_steps : int
        The episode's length in env steps (no early termination).
    threshold : float
        A goal counts as reached when the L2 distance of the achieved goal to it is at most this.
    variant : int
        Which variant of the shape (Fetch: 0..3 cycle; PointMaze tasks have one).

    Raises
    ------
    ValueError
        If ``goals`` is not a finite ``[T, G]`` array with ``T, G >= 1``, ``max_steps`` is not a
        positive int, ``threshold`` not a positive finite number, or a name not a non-empty str.

    Notes
    -----
    ``==`` compares every field, the goals exactly.
    """

    env_id: str
    name: str
    goals: np.ndarray
    max_steps: int
    threshold: float
    variant: int = 0

    def __post_init__(self) -> None:
        for field in ("env_id", "name"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise ValueError(f"GoalTask: {field} must be a non-empty str; got {value!r}")
        goals = _as_points(self.goals, "goals", "GoalTask")
        goals.flags.writeable = False
        object.__setattr__(self, "goals", goals)
        object.__setattr__(self, "max_steps", check_int(self.max_steps, "max_steps", "GoalTask"))
        object.__setattr__(self, "threshold", check_float(self.threshold, "threshold", "GoalTask"))
        object.__setattr__(self, "variant", check_int(self.variant, "variant", "GoalTask", minimum=0))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoalTask):
            return NotImplemented
        same = (self.env_id, self.name, self.max_steps, self.threshold, self.variant) == (
            other.env_id,
            other.name,
            other.max_steps,
            other.threshold,
            other.variant,
        )
        return same and bool(np.array_equal(self.goals, other.goals))

    __hash__ = None  # type: ignore[assignment]

    @property
    def n_goals(self) -> int:
        """``T``, the number of goals."""
        return int(self.goals.shape[0])


# ----------------------------------------------------------------------------------------------------
# The task set
# ----------------------------------------------------------------------------------------------------


def task_names(env_id: str) -> tuple[str, ...]:
    """The names of the tasks of ``env_id``, in the paper's order.

    Fetch: ``S-dense, S-sparse, L-dense, L-sparse, U-dense, U-sparse``; PointMaze:
    ``path-sparse, path-dense, circle-sparse, circle-dense``.

    Raises
    ------
    ValueError
        If ``env_id`` is not in :data:`TASK_FAMILIES`.
    """
    return _FAMILY_TASKS[_family(env_id, "task_names")]


def make_task(env_id: str, name: str, variant: int = 0) -> GoalTask:
    """The task ``name`` of ``env_id``, in variant ``variant`` (the one evaluation episode ``variant`` uses).

    Parameters
    ----------
    env_id : str
        A key of :data:`TASK_FAMILIES`.
    name : str
        One of :func:`task_names` ``(env_id)``.
    variant : int
        Fetch: variant ``variant % 4`` of the shape (S: mirrored and/or reversed; L and U: rotated);
        PointMaze: ignored but recorded (every episode has the same goals).

    Returns
    -------
    GoalTask
        Goals ``[T, 3]`` (Fetch: the block's position; z is its resting height on the table) or
        ``[T, 2]`` (PointMaze: the point's xy).

    Raises
    ------
    ValueError
        If ``env_id``, ``name`` or ``variant`` is not one of those above.
    RuntimeError
        For Fetch with mujoco >= 3.4 (the table height is read from the env, which needs mujoco < 3.4).
    """
    func = "make_task"
    family = _family(env_id, func)
    check_choice(name, "name", func, _FAMILY_TASKS[family])
    variant = check_int(variant, "variant", func, minimum=0)
    shape, density = name.split("-")
    if family == "fetch":
        z = _fetch_table_height(env_id)
        step = _FETCH_STEP if density == "dense" else _SPARSE_STEP
        goals = _fetch_goals(shape, variant, step, z)
        # the budget comes from variant 0, as in the official code (all variants have the same length)
        budget = _budget(_fetch_goals(shape, 0, step, z), _FETCH_STEP, _FETCH_SLACK)
        threshold = _FETCH_THRESHOLD
    else:
        goals = _maze_goals(shape, density == "dense")
        budget = _budget(goals, _MAZE_STEP, _MAZE_SLACK)
        threshold = _MAZE_THRESHOLD
    return GoalTask(env_id, name, goals, budget, threshold, variant)


def make_tasks(env_id: str, n_episodes: int = 20) -> list[GoalTask]:
    """The paper's evaluation set of ``env_id``: every task of :func:`task_names`, ``n_episodes`` times.

    Returns
    -------
    list[GoalTask]
        ``len(task_names(env_id)) * n_episodes`` tasks, grouped by name in :func:`task_names` order;
        within a name, episode ``e`` is variant ``e`` (so Fetch's 4 variants cycle).
    """
    func = "make_tasks"
    names = task_names(env_id)
    n_episodes = check_int(n_episodes, "n_episodes", func)
    return [make_task(env_id, name, e) for name in names for e in range(n_episodes)]


def _family(env_id: Any, func: str) -> str:
    if not isinstance(env_id, str) or env_id not in TASK_FAMILIES:
        raise ValueError(f"{func}: env_id must be one of {list(TASK_FAMILIES)}; got {env_id!r}")
    return TASK_FAMILIES[env_id]


@functools.cache
def _fetch_table_height(env_id: str) -> float:
    """The block's resting height on the table (``height_offset``, read from the env's model once)."""
    from sb3_ot.data.envs import make_env

    env = make_env(env_id)
    try:
        return float(env.unwrapped.height_offset)
    finally:
        env.close()


def _budget(goals: np.ndarray, step: float, slack: float) -> int:
    """``ceil(slack * path length / step)``: ``slack`` times the steps the path needs at full speed."""
    n_steps = float(np.linalg.norm(np.diff(goals, axis=0), axis=1).sum()) / step
    # 1e-9 absorbs float noise: L's length / 0.05 is 13 in exact arithmetic, but may not be in floats
    return max(math.ceil(slack * n_steps - 1e-9), 1)


def _fetch_box(z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lowest, highest and middle goal on the table, ``[3]`` each, at height ``z``."""
    lo = np.array([_FETCH_X[0] + _FETCH_MARGIN, _FETCH_Y[0] + _FETCH_MARGIN, z])
    hi = np.array([_FETCH_X[1] - _FETCH_MARGIN, _FETCH_Y[1] - _FETCH_MARGIN, z])
    return lo, hi, (lo + hi) / 2


def _fetch_goals(shape: str, variant: int, step: float, z: float) -> np.ndarray:
    """Goals ``[T, 3]`` of the Fetch ``shape`` ("S", "L" or "U") in ``variant``, about ``step`` apart."""
    lo, hi, mid = _fetch_box(z)
    if shape == "S":
        return _fetch_s(variant, step, lo, hi, mid)
    # the table's corners, counter-clockwise from the lowest one
    p1, p2, p3, p4 = lo, np.array([hi[0], lo[1], z]), hi, np.array([lo[0], hi[1], z])
    if shape == "L":
        corners = [[p1, p2, p3], [p2, p1, p4], [p3, p4, p1], [p4, p3, p2]][variant % 4]
    else:
        corners = [[p1, p4, p3, p2], [p2, p3, p4, p1], [p3, p2, p1, p4], [p4, p1, p2, p3]][variant % 4]
    return _polyline(corners, step)


def _polyline(corners: list[np.ndarray], step: float) -> np.ndarray:
    """Points about ``step`` apart along the segments between ``corners``, each corner once."""
    parts = []
    for k, (a, b) in enumerate(zip(corners[:-1], corners[1:], strict=True)):
        t = np.linspace(0.0, 1.0, max(math.ceil(np.linalg.norm(b - a) / step), 2))
        if k < len(corners) - 2:
            t = t[:-1]  # the next segment starts at this one's end point
        parts.append(a + (b - a) * t[:, None])
    return np.concatenate(parts)


def _fetch_s(variant: int, step: float, lo: np.ndarray, hi: np.ndarray, mid: np.ndarray) -> np.ndarray:
    """The S: two half circles along y through the table's middle; variants mirror and reverse it."""
    p1 = np.array([mid[0], lo[1], mid[2]])
    p3 = np.array([mid[0], hi[1], mid[2]])

    def half_circle(pa: np.ndarray, pb: np.ndarray, right: bool) -> np.ndarray:
        c, r = (pa + pb) / 2, float(np.linalg.norm(pb - pa)) / 2
        t = np.linspace(0.0, math.pi, max(math.ceil(math.pi * r / step), 2) + 1)
        # from pa to pb, bulging to +x (right) or to -x
        t = t - math.pi / 2 if right else t[::-1] + math.pi / 2
        return np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t), np.full_like(t, mid[2])], axis=1)

    right = variant % 4 < 2
    curve = np.concatenate([half_circle(p1, mid, right)[:-1], half_circle(mid, p3, not right)])
    return curve[::-1].copy() if variant % 2 else curve


def _maze_goals(shape: str, dense: bool) -> np.ndarray:
    """Goals ``[T, 2]`` of the maze ``shape``; dense: each segment cut in pieces of ~12 full-speed steps
    (both end points kept, so the corners appear twice)."""
    corners = np.array(_MAZE_SHAPES[shape], dtype=np.float64)
    if not dense:
        return corners
    parts = []
    for c1, c2 in zip(corners[:-1], corners[1:], strict=True):
        n = math.ceil(np.linalg.norm(c2 - c1) / _MAZE_STEP / _MAZE_STRIDE)
        t = np.linspace(0.0, 1.0, n + 1)[:, None]
        parts.append((1 - t) * c1 + t * c2)
    return np.concatenate(parts)


# ----------------------------------------------------------------------------------------------------
# Starting an episode
# ----------------------------------------------------------------------------------------------------


def reset_to_first_goal(env: Any, task: GoalTask, seed: int | None = None) -> dict[str, np.ndarray]:
    """Reset ``env`` with ``seed``, then put the block (Fetch) or the point (PointMaze) on the first goal.

    Fetch: the block's xy is set to ``goals[0][:2]`` (it keeps its resting height and orientation); the
    gripper stays at its reset pose. PointMaze: the point's position is set to ``goals[0]`` (its
    velocity is kept, zero after a reset).

    Parameters
    ----------
    env : gymnasium.Env
        A Fetch env with a block or a PointMaze env, as :func:`sb3_ot.data.envs.make_env` returns it
        (wrappers that leave the observations alone, such as ``TimeLimit``, are fine).
    task : GoalTask
        Its goals must live in the env's ``achieved_goal`` space.
    seed : int or None
        Passed to ``env.reset``.

    Returns
    -------
    dict[str, np.ndarray]
        The observation after the move (``observation``, ``achieved_goal``, ``desired_goal``);
        ``achieved_goal`` is the first goal. ``desired_goal`` is the env's own goal, unrelated to the task.

    Raises
    ------
    ValueError
        If ``env`` has no dict observations with an ``achieved_goal``, has wrappers that change the
        observations, is neither a Fetch env with a block nor a PointMaze env, or if the goals'
        dimension is not that of ``achieved_goal``.
    """
    func = "reset_to_first_goal"
    if not isinstance(task, GoalTask):
        raise ValueError(f"{func}: task must be a GoalTask; got {type(task).__name__}")
    if seed is not None:
        seed = check_int(seed, "seed", func, minimum=0)
    _check_goal_env(env, task, func)
    unwrapped = env.unwrapped
    is_maze = hasattr(unwrapped, "point_env")
    if not is_maze and not getattr(unwrapped, "has_object", False):
        raise ValueError(
            f"{func}: env must be a PointMaze env or a Fetch env with a block (FetchPush, FetchPickAndPlace); "
            f"got {_env_name(env)}"
        )
    env.reset(seed=seed)
    first = task.goals[0]
    return _place_point(unwrapped, first) if is_maze else place_block(unwrapped, first)


def _env_name(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped).__name__


def _check_goal_env(env: Any, task: GoalTask, func: str) -> None:
    """``env`` has dict observations with an ``achieved_goal`` of the task's goal dimension."""
    space = getattr(env, "observation_space", None)
    if not isinstance(space, gym.spaces.Dict) or "achieved_goal" not in space.spaces:
        raise ValueError(
            f"{func}: env must have dict observations holding 'achieved_goal'; {_env_name(env)} has "
            f"observation space {space}"
        )
    if space != env.unwrapped.observation_space:
        # the observation is recomputed from the simulator: such wrappers would be skipped
        raise ValueError(f"{func}: env must not have wrappers that change its observations; got {env}")
    shape = space["achieved_goal"].shape
    if shape != task.goals.shape[1:]:
        raise ValueError(
            f"{func}: task.goals must have the dimension of the env's achieved_goal {shape}; got goals of "
            f"shape {task.goals.shape} (task {task.name!r} for {task.env_id}, env {_env_name(env)})"
        )


def _place_point(maze: Any, goal: np.ndarray) -> dict[str, np.ndarray]:
    point = maze.point_env
    qpos = point.data.qpos.copy()
    qpos[:2] = goal
    point.set_state(qpos, point.data.qvel.copy())
    point_obs, _ = point._get_obs()
    return maze._get_obs(point_obs)


# ----------------------------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------------------------


def w_min(goals: Any, history: Any) -> float:
    """``min_t W(goals, history[:t + 1])``: the exact W1 distance (uniform weights, L2 cost) between the
    goals and the best prefix of the achieved goals.

    Parameters
    ----------
    goals : array-like, shape [T, G]
        The expert goals.
    history : array-like, shape [t + 1, G]
        The achieved goals: the one right after the reset, then one per step.

    Returns
    -------
    float
        The smallest W1 over the ``t + 1`` prefixes (ZILOT's ``W_min``).
    """
    goals = _as_points(goals, "goals", "w_min")
    history = _as_points(history, "history", "w_min", goals.shape[1])
    return min(_prefix_w1(goals, history, 1))


def goal_fraction(goals: Any, history: Any, threshold: float) -> float:
    """The fraction of the goals reached in order: ZILOT's ``GoalFraction``.

    At every step ``t >= 1`` (the reset state is not tested), the goals within ``threshold`` (L2) of
    ``history[t]`` are fed, in ascending index order, into a longest strictly increasing subsequence;
    the result is its final length over ``T``. It is 1 exactly when all goals were reached in order.

    Parameters
    ----------
    goals : array-like, shape [T, G]
    history : array-like, shape [t + 1, G]
        The achieved goals: the one right after the reset, then one per step.
    threshold : float
        The success radius (Fetch 0.05, PointMaze 0.45).

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    func = "goal_fraction"
    goals = _as_points(goals, "goals", func)
    history = _as_points(history, "history", func, goals.shape[1])
    threshold = check_float(threshold, "threshold", func)
    lis: list[int] = []
    for reached in _reached(goals, history[1:], threshold):
        for j in reached:
            _lis_update(lis, int(j))
    return len(lis) / goals.shape[0]


def _reached(goals: np.ndarray, points: np.ndarray, threshold: float) -> list[np.ndarray]:
    """For each point ``[K, G]``, the sorted indices of the goals within ``threshold`` of it."""
    dist = np.linalg.norm(points[:, None, :] - goals[None, :, :], axis=-1)
    return [np.flatnonzero(row <= threshold) for row in dist]


def _lis_update(lis: list[int], j: int) -> None:
    """Patience sorting: ``lis[k]`` is the smallest last index of a strictly increasing run of ``k + 1``."""
    k = bisect_left(lis, j)
    if k == len(lis):
        lis.append(j)
    else:
        lis[k] = j  # bisect_left guarantees j <= lis[k]


def _prefix_w1(goals: np.ndarray, history: np.ndarray, start: int) -> list[float]:
    """W1 between ``goals`` and ``history[:k]`` for ``k = start .. len(history)``."""
    from sb3_ot.ot import emd  # torch and POT load only when a metric is asked for

    goals = np.array(goals)  # writable: torch warns on read-only arrays (a task's goals are)
    return [emd(goals, history[:k]) for k in range(start, history.shape[0] + 1)]


class GoalTracker:
    """The metrics of one episode, fed one achieved goal per step.

    Parameters
    ----------
    task : GoalTask
        The episode's task (goals and threshold).
    initial : array-like, shape [G]
        The achieved goal right after the reset (not tested for GoalFraction; it enters ``W_min``).

    Notes
    -----
    GoalFraction is updated in :meth:`update` (cheap); ``W_min`` is computed when read, for the
    prefixes added since the last read (one exact OT solve per step in all, as in the official code).
    """

    def __init__(self, task: GoalTask, initial: Any) -> None:
        if not isinstance(task, GoalTask):
            raise ValueError(f"GoalTracker: task must be a GoalTask; got {type(task).__name__}")
        self._task = task
        self._history = [self._point(initial, "initial", "GoalTracker")]
        self._lis: list[int] = []
        self._w: list[float] = []  # W1 of the prefixes of length 1 .. len(self._w)

    def _point(self, value: Any, name: str, func: str) -> np.ndarray:
        dim = self._task.goals.shape[1]
        array = np.asarray(value)
        if array.shape != (dim,):
            raise ValueError(
                f"{func}: {name} must have shape ({dim},), the goals' dimension; got {array.shape}"
            )
        return _as_points(array[None], name, func, dim)[0]

    def update(self, achieved_goal: Any) -> None:
        """Record the achieved goal ``[G]`` after one more step."""
        point = self._point(achieved_goal, "achieved_goal", "GoalTracker.update")
        self._history.append(point)
        for j in _reached(self._task.goals, point[None], self._task.threshold)[0]:
            _lis_update(self._lis, int(j))

    @property
    def history(self) -> np.ndarray:
        """The achieved goals so far, ``[n_steps + 1, G]`` (a copy)."""
        return np.stack(self._history)

    @property
    def n_steps(self) -> int:
        """The steps recorded so far."""
        return len(self._history) - 1

    @property
    def goal_fraction(self) -> float:
        """See :func:`goal_fraction`."""
        return len(self._lis) / self._task.n_goals

    @property
    def success(self) -> bool:
        """Whether all goals were reached in order."""
        return len(self._lis) == self._task.n_goals

    @property
    def w_min(self) -> float:
        """See :func:`w_min`."""
        if len(self._w) < len(self._history):
            self._w += _prefix_w1(self._task.goals, self.history, len(self._w) + 1)
        return min(self._w)


def run_task(
    env: Any, policy_fn: Callable[[dict[str, np.ndarray]], Any], task: GoalTask, seed: int | None = None
) -> dict[str, float | bool | int]:
    """Run one episode of ``task``: reset to the first goal, then ``task.max_steps`` steps of ``policy_fn``.

    The episode runs the whole budget: ``terminated`` and ``truncated`` are ignored (make the env with
    ``max_episode_steps >= task.max_steps`` to keep ``TimeLimit`` quiet). The observations carry the
    env's own ``desired_goal``, not the task's goals: hand those to the policy yourself.

    Parameters
    ----------
    env : gymnasium.Env
        As for :func:`reset_to_first_goal`.
    policy_fn : callable
        ``policy_fn(obs) -> action``, ``obs`` the env's dict observation.
    task : GoalTask
    seed : int or None
        Passed to ``env.reset``.

    Returns
    -------
    dict
        ``{"w_min": float, "goal_fraction": float, "success": bool, "steps": int}``.
    """
    if not callable(policy_fn):
        raise ValueError(f"run_task: policy_fn must be callable; got {type(policy_fn).__name__}")
    obs = reset_to_first_goal(env, task, seed)
    tracker = GoalTracker(task, obs["achieved_goal"])
    for _ in range(task.max_steps):
        obs, *_ = env.step(policy_fn(obs))
        tracker.update(obs["achieved_goal"])
    return {
        "w_min": tracker.w_min,
        "goal_fraction": tracker.goal_fraction,
        "success": tracker.success,
        "steps": tracker.n_steps,
    }

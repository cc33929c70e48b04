"""Scripted experts where a controller beats training: PointMaze (as D4RL's maze2d data was made), Fetch.

D4RL collected maze2d with a waypoint planner over the maze grid and a PD controller
(``d4rl/pointmaze/waypoint_controller.py``: ``action = p_gain * (waypoint - pos) + d_gain * vel``,
``p_gain = 10``, ``d_gain = -1``). :class:`MazeWaypointController` does the same on gymnasium-robotics'
``PointMaze_*`` envs: a breadth-first search from the goal cell over free cells gives every cell its
next cell towards the goal; the controller steers at the centre of that next cell, and at the goal
itself once in the goal's cell. :class:`FetchController` pushes or carries the block of gymnasium-robotics'
``FetchPush`` / ``FetchPickAndPlace`` to the desired goal (100% success over 50 seeded episodes of each).

A controller has no training run, so :class:`ScriptedSource` makes the learning curve explicit: a ladder
of epsilon-random versions of the controller (:data:`EPSILONS`), evaluated once and cached.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sb3_ot._args import check_bounded_box, check_float
from sb3_ot._files import settings_key, write_json
from sb3_ot.data.envs import make_env
from sb3_ot.data.rollouts import Policy, episode_returns

__all__ = [
    "EPSILONS",
    "FETCH_FALL_DEPTH",
    "FETCH_TABLE",
    "FetchController",
    "FetchTableResets",
    "MAZE_DATA_KWARGS",
    "MazeWaypointController",
    "ScriptedSource",
    "controller_for",
    "controller_name",
    "epsilon_policy",
    "data_resets",
    "noisy_policy",
    "is_scripted",
    "make_data_env",
    "place_block",
    "success_key",
]

#: The scripted "learning curve"; finer near random, where a PD controller's return climbs fastest.
EPSILONS = (1.0, 0.975, 0.95, 0.925, 0.9, 0.85, 0.8, 0.7, 0.6, 0.4, 0.2, 0.0)

_MAZE_PREFIXES = ("PointMaze_",)
_FETCH_PREFIXES = ("FetchPush-", "FetchPickAndPlace-")

#: Where the Fetch data's gripper and block start and its goals lie (xy, m): the table top but 5 cm at
#: its edges.
#: The env's own resets keep the gripper at one pose, block and goal within 15 cm of it (y 0.60-0.90),
#: while ZILOT's tasks span
#: the table (y 0.50-1.00): a goal model trained on the env's resets sees the tasks out of its data.
FETCH_TABLE: dict[str, tuple[float, float]] = {"x": (1.10, 1.50), "y": (0.45, 1.05)}

#: How far (m) below its resting height the block may go before the Fetch data's episode ends: it has
#: left the table top. 6% of the scripted pusher's episodes pushed it off (docs/zilot.md); the
#: states after (the gripper chasing it beside and below the table) lie outside every ZILOT task, and a
#: goal model trained on them rated a gripper below the table edge as near an on-table goal.
FETCH_FALL_DEPTH = 0.03


#: PointMaze data as D4RL's maze2d: the follower gets a new goal each time it reaches one. With the
#: env's default (``reset_target=False``) it parks on its one goal, and half the data stood still
#: (docs/zilot.md, "PointMaze: values in log units, and the data's idle half").
MAZE_DATA_KWARGS: dict[str, Any] = {"reset_target": True}


def is_scripted(env_id: str) -> bool:
    """Whether sb3-ot builds ``env_id``'s data with a scripted expert rather than a trained one."""
    return env_id.startswith(_MAZE_PREFIXES + _FETCH_PREFIXES)


def success_key(env_id: str) -> str:
    """The info key a scripted env reports success under (kept in the datasets' ``infos``)."""
    return "is_success" if env_id.startswith(_FETCH_PREFIXES) else "success"


def controller_name(env_id: str) -> str:
    """The class name of ``env_id``'s scripted expert (recorded in the datasets' build info)."""
    return "FetchController" if env_id.startswith(_FETCH_PREFIXES) else "MazeWaypointController"


def make_data_env(env_id: str) -> gym.Env:
    """The env ``env_id``'s datasets are collected in: Fetch envs get :class:`FetchTableResets`, PointMaze
    envs a new goal each time one is reached (:data:`MAZE_DATA_KWARGS`)."""
    if env_id.startswith(_FETCH_PREFIXES):
        return FetchTableResets(make_env(env_id))
    return make_env(env_id, **data_resets(env_id))  # PointMaze: MAZE_DATA_KWARGS; other envs: none


def data_resets(env_id: str) -> dict[str, Any]:
    """How :func:`make_data_env` changes ``env_id``'s resets, for the datasets' build settings (``{}``: not)."""
    if env_id.startswith(_MAZE_PREFIXES):
        return dict(MAZE_DATA_KWARGS)
    if not env_id.startswith(_FETCH_PREFIXES):
        return {}
    return {
        "table_resets_xy": {k: list(v) for k, v in FETCH_TABLE.items()},
        "end_when_block_falls_m": FETCH_FALL_DEPTH,
    }


class FetchTableResets(gym.Wrapper):
    """Fetch resets with the gripper, the block's start and the goal's xy uniform over :data:`FETCH_TABLE`,
    and episodes that end (``truncated``) once the block falls off the table.

    The gripper is driven there (the mocap target moved, as the env's own setup does, at its reset
    height); then the block is put 10 cm or more from it, as the env's own draw keeps it. The goal keeps
    its height (on the table, or in the air for FetchPickAndPlace). Every draw comes from the env's
    seeded generator, after its own reset.
    """

    def __init__(self, env: gym.Env) -> None:
        if not getattr(env.unwrapped, "has_object", False):
            raise ValueError(f"FetchTableResets: env must be a Fetch env with a block; got {env.unwrapped!r}")
        super().__init__(env)

    def reset(self, **kwargs: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        _, info = self.env.reset(**kwargs)
        fetch, draw = self.env.unwrapped, self._draw
        rest = fetch._utils.get_joint_qpos(fetch.model, fetch.data, "object0:joint").copy()  # on the table
        grip = np.append(draw(), fetch.initial_gripper_xpos[2])
        fetch._utils.set_mocap_pos(fetch.model, fetch.data, "robot0:mocap", grip)
        for _ in range(10):  # the env's own setup settles its gripper in 10 steps
            fetch._mujoco.mj_step(fetch.model, fetch.data, nstep=fetch.n_substeps)
        block = draw()
        while np.linalg.norm(block - grip[:2]) < 0.1:
            block = draw()
        fetch.goal = np.append(draw(), fetch.goal[2])
        self._fall_z = float(rest[2]) - FETCH_FALL_DEPTH
        return place_block(fetch, block, rest), info  # the gripper may have knocked it: from rest

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        fell = bool(obs["achieved_goal"][2] < self._fall_z)  # off the table top: nothing to learn after
        return obs, reward, terminated, truncated or fell, info

    def _draw(self) -> np.ndarray:
        lo, hi = (np.array([FETCH_TABLE["x"][i], FETCH_TABLE["y"][i]]) for i in (0, 1))
        return self.env.unwrapped.np_random.uniform(lo, hi)


def place_block(fetch: Any, xy: np.ndarray, rest: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Move the block of the (unwrapped) Fetch env ``fetch`` to ``xy``, at rest, with the height and
    orientation of ``rest`` (its joint's ``qpos [7]``; default: where it is); returns the new observation."""
    qpos = (
        rest if rest is not None else fetch._utils.get_joint_qpos(fetch.model, fetch.data, "object0:joint")
    ).copy()
    qpos[:2] = xy[:2]
    fetch._utils.set_joint_qpos(fetch.model, fetch.data, "object0:joint", qpos)
    fetch._utils.set_joint_qvel(fetch.model, fetch.data, "object0:joint", np.zeros(6))
    fetch._mujoco.mj_forward(fetch.model, fetch.data)
    return fetch._get_obs()


def controller_for(env: gym.Env) -> MazeWaypointController | FetchController:
    """The scripted expert of ``env`` (a PointMaze or a FetchPush / FetchPickAndPlace env)."""
    if getattr(env.unwrapped, "maze", None) is not None:
        return MazeWaypointController(env)
    return FetchController(env)


class MazeWaypointController:
    """Waypoint planner over the maze grid + PD controller for gymnasium-robotics ``PointMaze`` envs.

    Parameters
    ----------
    env : gymnasium.Env
        A ``PointMaze_*`` env (wrapped or not); its maze map and current goal are read at every call.
    p_gain, d_gain : float
        PD gains on the position error to the waypoint and on the velocity (D4RL: 10 and -1).

    Call it as a :data:`sb3_ot.data.rollouts.Policy`: ``controller(obs, t, rng) -> action [2]``,
    with ``obs`` the env's dict observation (``observation = [x, y, vx, vy]``, ``desired_goal``).
    """

    def __init__(self, env: gym.Env, *, p_gain: float = 10.0, d_gain: float = -1.0) -> None:
        maze = getattr(env.unwrapped, "maze", None)
        if maze is None or not hasattr(maze, "cell_xy_to_rowcol"):
            raise ValueError(
                f"MazeWaypointController: env must be a gymnasium-robotics PointMaze env; got {env.unwrapped!r}"
            )
        self.maze = maze
        self.free = np.array(maze.maze_map, dtype=object) != 1
        self.p_gain, self.d_gain = float(p_gain), float(d_gain)
        self.low, self.high = env.action_space.low, env.action_space.high
        self._next_cell: dict[tuple[int, int], dict[tuple[int, int], tuple[int, int]]] = {}

    def _cell(self, xy: np.ndarray) -> tuple[int, int]:
        i, j = self.maze.cell_xy_to_rowcol(np.asarray(xy, dtype=np.float64))
        n_rows, n_cols = self.free.shape
        return int(np.clip(i, 0, n_rows - 1)), int(np.clip(j, 0, n_cols - 1))

    def _plan(self, goal: tuple[int, int]) -> dict[tuple[int, int], tuple[int, int]]:
        """Next cell towards ``goal`` for every free cell reachable from it (BFS from the goal)."""
        if goal not in self._next_cell:
            nxt = {goal: goal}
            queue = deque([goal])
            while queue:
                cell = queue.popleft()
                for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    nb = (cell[0] + di, cell[1] + dj)
                    if (
                        0 <= nb[0] < self.free.shape[0]
                        and 0 <= nb[1] < self.free.shape[1]
                        and self.free[nb]
                        and nb not in nxt
                    ):
                        nxt[nb] = cell
                        queue.append(nb)
            self._next_cell[goal] = nxt
        return self._next_cell[goal]

    def __call__(self, obs: dict[str, np.ndarray], t: int, rng: np.random.Generator) -> np.ndarray:
        state = np.asarray(obs["observation"], dtype=np.float64)
        pos, vel = state[:2], state[2:4]
        goal_xy = np.asarray(obs["desired_goal"], dtype=np.float64)
        goal, here = self._cell(goal_xy), self._cell(pos)
        nxt = self._plan(goal).get(here, goal)  # off the grid's free cells: head for the goal
        # in or next to the goal's cell: steer at the goal itself, else at the next cell's centre
        target = goal_xy if nxt == goal else self.maze.cell_rowcol_to_xy(np.array(nxt))
        action = self.p_gain * (target - pos) + self.d_gain * vel
        return np.clip(action, self.low, self.high).astype(np.float32)


class FetchController:
    """Scripted expert for gymnasium-robotics ``FetchPush`` and ``FetchPickAndPlace`` envs.

    Push: go (above the block) to a point 6 cm behind it on the line from the goal through the block,
    descend to the table, and push along that line; re-approach whenever the gripper falls off the line.
    Pick-and-place: go above the block with the fingers open, descend, close, and carry it to the goal
    (in the air or on the table). Both are stateless functions of the observation, so epsilon-random
    actions (:func:`epsilon_policy`) only delay them.

    Parameters
    ----------
    env : gymnasium.Env
        A ``FetchPush`` or ``FetchPickAndPlace`` env (wrapped or not).
    gain : float
        Proportional gain from the position error (m) to the action (one unit moves the gripper 5 cm).

    Call it as a :data:`sb3_ot.data.rollouts.Policy`: ``controller(obs, t, rng) -> action [4]`` with
    ``obs`` the env's dict observation (``observation[:3]`` gripper, ``[3:6]`` block, ``[9:11]`` fingers).
    """

    def __init__(self, env: gym.Env, *, gain: float = 10.0) -> None:
        name = type(env.unwrapped).__name__
        if "Fetch" not in name or not ("Push" in name or "PickAndPlace" in name):
            raise ValueError(
                f"FetchController: env must be a gymnasium-robotics FetchPush or FetchPickAndPlace env; "
                f"got {env.unwrapped!r}"
            )
        self.pick = "PickAndPlace" in name
        self.gain = check_float(gain, "gain", "FetchController")

    def _move(self, grip: np.ndarray, target: np.ndarray, fingers: float) -> np.ndarray:
        return np.append(np.clip(self.gain * (target - grip), -1.0, 1.0), fingers).astype(np.float32)

    def __call__(self, obs: dict[str, np.ndarray], t: int, rng: np.random.Generator) -> np.ndarray:
        state = np.asarray(obs["observation"], dtype=np.float64)
        goal = np.asarray(obs["desired_goal"], dtype=np.float64)
        if self.pick:
            return self._pick(state[:3], state[3:6], float(state[9:11].sum()), goal)
        return self._push(state[:3], state[3:6], goal)

    def _push(self, grip: np.ndarray, block: np.ndarray, goal: np.ndarray) -> np.ndarray:
        delta = goal[:2] - block[:2]
        d = delta / max(float(np.linalg.norm(delta)), 1e-6)  # the pushing direction
        behind = block[:2] - 0.06 * d
        rel = grip[:2] - block[:2]
        along = float(rel @ d)
        low, high = block[2] - 0.01, block[2] + 0.08
        if along < -0.035 and np.linalg.norm(rel - along * d) < 0.015 and grip[2] < block[2] + 0.02:
            return self._move(grip, np.append(goal[:2] - 0.045 * d, low), -1.0)  # on the line: push
        if np.linalg.norm(grip[:2] - behind) > 0.015:
            if grip[2] < block[2] + 0.04 and np.linalg.norm(rel) < 0.08:  # clear the block first
                return self._move(grip, np.append(grip[:2], high), -1.0)
            return self._move(grip, np.append(behind, high), -1.0)
        return self._move(grip, np.append(behind, low), -1.0)

    def _pick(self, grip: np.ndarray, block: np.ndarray, width: float, goal: np.ndarray) -> np.ndarray:
        rel = block - grip
        if np.linalg.norm(rel) < 0.02 and width < 0.06:  # held: carry it
            return self._move(grip, goal, -1.0)
        if np.linalg.norm(rel[:2]) > 0.012:
            return self._move(grip, np.append(block[:2], block[2] + 0.06), 1.0)
        if rel[2] < -0.008:  # above it: open fully, then descend
            return self._move(grip, grip if width < 0.08 else block, 1.0)
        return self._move(grip, block, -1.0)


def epsilon_policy(policy, action_space: gym.Space, epsilon: float):
    """``policy`` with each action replaced, with probability ``epsilon``, by a uniform random one.

    Randomness comes from the ``rng`` :func:`~sb3_ot.data.rollouts.rollout` passes, so rollouts stay seeded.
    """
    func = "epsilon_policy"
    epsilon = check_float(epsilon, "epsilon", func, low=0.0, high=1.0, low_open=False)
    low, high = check_bounded_box(action_space, func, "its random actions are uniform over it")

    def noisy(obs, t: int, rng: np.random.Generator) -> np.ndarray:
        if epsilon > 0 and rng.random() < epsilon:
            return rng.uniform(low, high).astype(action_space.dtype)
        return policy(obs, t, rng)

    return noisy


def noisy_policy(policy, action_space: gym.Space, std: float):
    """``policy`` with Gaussian action noise of ``std`` times each dimension's half-range, clipped to the box.

    DDPG's and TD3's exploration noise. Unlike :func:`epsilon_policy`, every step keeps the expert's intent
    (a Fetch picker's open fingers), only perturbed: on FetchPickAndPlace at std 0.2 the picker still
    succeeds in 62% of episodes (60 episodes), where 30% uniform random actions on top of the noise (DDPG+HER's
    ``random_eps``) drop it to 0% (docs/zilot.md). Randomness comes from the ``rng``
    :func:`~sb3_ot.data.rollouts.rollout` passes, so rollouts stay seeded.
    """
    func = "noisy_policy"
    std = check_float(std, "std", func, low=0.0, low_open=False)
    low, high = check_bounded_box(action_space, func, "the noise is a share of its range")
    scale = std * (high - low) / 2.0

    def noisy(obs, t: int, rng: np.random.Generator) -> np.ndarray:
        action = policy(obs, t, rng) + scale * rng.standard_normal(low.shape)
        return np.clip(action, low, high).astype(action_space.dtype)

    return noisy


@dataclass(frozen=True)
class ScriptedSource:
    """A scripted expert and its epsilon ladder, evaluated once and cached as JSON.

    The scripted counterpart of :class:`~sb3_ot.datasets.experts.ExpertRun`: ``random_return`` is
    epsilon 1.0, ``expert_return`` epsilon 0.0, and ``medium_epsilon`` the rung in between whose return
    is closest to ``random + medium_fraction * (expert - random)``.
    """

    env_id: str
    seed: int
    random_return: float
    expert_return: float
    ladder: dict[float, float]  # epsilon -> mean return
    medium_epsilon: float
    medium_fraction: float

    def policy(self, epsilon: float, env: gym.Env) -> Policy:
        """The controller of ``env`` with epsilon-random actions."""
        return epsilon_policy(controller_for(env), env.action_space, epsilon)

    @classmethod
    def load(
        cls, env_id: str, seed: int, medium_fraction: float, n_ref_episodes: int, home: Path, progress: bool
    ) -> ScriptedSource:
        """The cached source of these settings under ``home/scripted/``, evaluated first if missing."""
        resets = data_resets(env_id)  # the ladder's returns depend on them: a change re-evaluates it
        tag = f"-resets{settings_key(resets)}" if resets else ""
        path = home / "scripted" / env_id / f"seed{seed}-f{medium_fraction:.4f}-n{n_ref_episodes}{tag}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            data["ladder"] = {float(k): v for k, v in data["ladder"].items()}
            return cls(**data)
        ladder = _evaluate_ladder(env_id, seed, n_ref_episodes, progress)
        random_return, expert_return = ladder[1.0], ladder[0.0]
        target = random_return + medium_fraction * (expert_return - random_return)
        medium = min((e for e in EPSILONS if 0.0 < e < 1.0), key=lambda e: (abs(ladder[e] - target), e))
        src = cls(env_id, seed, random_return, expert_return, ladder, medium, medium_fraction)
        write_json(path, {**src.__dict__, "ladder": {str(k): v for k, v in ladder.items()}})
        return src


def _evaluate_ladder(env_id: str, seed: int, n_ref_episodes: int, progress: bool) -> dict[float, float]:
    """Mean return of every rung of :data:`EPSILONS`; the two ends (random, expert) get the most episodes."""
    env = make_data_env(env_id)
    try:
        ladder = {}
        for i, eps in enumerate(EPSILONS):
            n = n_ref_episodes if eps in (0.0, 1.0) else max(10, n_ref_episodes // 10)
            policy = None if eps == 1.0 else epsilon_policy(controller_for(env), env.action_space, eps)
            returns = episode_returns(
                env, policy, n_episodes=n, seed=40_000 + 1000 * i + seed, progress=progress
            )
            ladder[eps] = float(np.mean(returns))
    finally:
        env.close()
    return ladder

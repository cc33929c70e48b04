"""ZILOT's evaluation tasks (Fetch S/L/U, PointMaze circle/path), the reset onto the first goal, and the
W_min / GoalFraction metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import ot
import pytest

from sb3_ot.data.envs import make_env
from sb3_ot.planners.tasks import (
    TASK_FAMILIES,
    GoalTask,
    GoalTracker,
    goal_fraction,
    make_task,
    make_tasks,
    reset_to_first_goal,
    run_task,
    task_names,
    w_min,
)

PUSH, PNP, MAZE = "FetchPush-v4", "FetchPickAndPlace-v4", "PointMaze_Medium-v3"


@pytest.fixture(scope="module")
def push_env():
    env = make_env(PUSH)
    yield env
    env.close()


@pytest.fixture(scope="module")
def maze_env():
    env = make_env(MAZE)
    yield env
    env.close()


# ---------------------------------------------------------------------------------------------------
# The task set
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("S-sparse", [(1.275, 0.5), (1.4, 0.625), (1.275, 0.75), (1.15, 0.875), (1.275, 1.0)]),
        ("L-sparse", [(1.2, 0.5), (1.35, 0.5), (1.35, 1.0)]),
        ("U-sparse", [(1.2, 0.5), (1.2, 1.0), (1.35, 1.0), (1.35, 0.5)]),
    ],
)
def test_fetch_sparse_goals(push_env, name, expected):
    task = make_task(PUSH, name)
    assert task.goals.dtype == np.float64 and task.goals.shape == (len(expected), 3)
    np.testing.assert_allclose(task.goals[:, :2], expected, atol=1e-12)
    # the goals lie on the table at the block's resting height
    np.testing.assert_array_equal(task.goals[:, 2], push_env.unwrapped.height_offset)
    assert task.goals[0, 2] == pytest.approx(0.42470, abs=1e-5)
    assert task.threshold == 0.05 and task.variant == 0


@pytest.mark.parametrize(
    ("env_id", "name", "n_goals", "max_steps"),
    [
        (PUSH, "S-dense", 17, 125),
        (PUSH, "S-sparse", 5, 114),
        (PUSH, "L-dense", 12, 104),
        (PUSH, "L-sparse", 3, 104),
        (PNP, "U-dense", 21, 184),
        (PNP, "U-sparse", 4, 184),
        (MAZE, "circle-sparse", 9, 462),
        (MAZE, "circle-dense", 32, 462),
        (MAZE, "path-sparse", 8, 401),
        (MAZE, "path-dense", 28, 401),
    ],
)
def test_goal_counts_and_budgets(env_id, name, n_goals, max_steps):
    for variant in range(4):
        task = make_task(env_id, name, variant)
        assert (task.n_goals, task.max_steps, task.name, task.env_id) == (n_goals, max_steps, name, env_id)


@pytest.mark.parametrize(
    ("env_id", "shape"), [(PUSH, "S"), (PUSH, "L"), (PNP, "U"), (MAZE, "circle"), (MAZE, "path")]
)
def test_dense_goals_pass_through_the_sparse_ones(env_id, shape):
    for variant in range(4):
        dense = make_task(env_id, f"{shape}-dense", variant).goals
        sparse = make_task(env_id, f"{shape}-sparse", variant).goals
        np.testing.assert_allclose(dense[[0, -1]], sparse[[0, -1]], atol=1e-12)
        gaps = np.linalg.norm(dense[:, None] - sparse[None], axis=-1).min(axis=0)
        assert gaps.max() < 1e-9


def test_fetch_variants():
    s = [make_task(PUSH, "S-sparse", v).goals for v in range(4)]
    np.testing.assert_allclose(s[1], s[0][::-1])
    mirrored = s[0].copy()
    mirrored[:, 0] = 2 * 1.275 - mirrored[:, 0]
    np.testing.assert_allclose(s[2], mirrored, atol=1e-12)
    # L and U start from each corner of the table once; variants cycle with period 4
    for name in ("L-dense", "U-sparse"):
        starts = {tuple(make_task(PUSH, name, v).goals[0, :2].round(6)) for v in range(4)}
        assert starts == {(1.2, 0.5), (1.35, 0.5), (1.35, 1.0), (1.2, 1.0)}
        assert make_task(PUSH, name, 5) == dataclasses.replace(make_task(PUSH, name, 1), variant=5)


def test_maze_goals():
    circle = make_task(MAZE, "circle-dense")
    np.testing.assert_array_equal(circle.goals[0], circle.goals[-1])  # a loop
    assert len(np.unique(circle.goals, axis=0)) == 32 - 8  # 7 corners twice, and the start twice
    np.testing.assert_array_equal(make_task(MAZE, "path-sparse").goals[[0, -1]], [(-2.5, 2.5), (1.5, -2.5)])
    assert make_task(MAZE, "path-sparse").threshold == 0.45
    np.testing.assert_array_equal(make_task(MAZE, "path-dense", 3).goals, make_task(MAZE, "path-dense").goals)


def test_make_tasks():
    assert task_names(PNP) == ("S-dense", "S-sparse", "L-dense", "L-sparse", "U-dense", "U-sparse")
    assert set(TASK_FAMILIES) == {PUSH, PNP, MAZE}
    tasks = make_tasks(PUSH, n_episodes=5)
    assert len(tasks) == 6 * 5
    assert [t.name for t in tasks[:6]] == ["S-dense"] * 5 + ["S-sparse"]
    assert [t.variant for t in tasks[:5]] == [0, 1, 2, 3, 4]
    assert tasks[7] == make_task(PUSH, "S-sparse", 2)
    assert len(make_tasks(MAZE, 3)) == 4 * 3


def test_task_errors():
    with pytest.raises(ValueError, match="make_task: env_id must be one of"):
        make_task("Pendulum-v1", "S-dense")
    with pytest.raises(ValueError, match="make_task: name must be one of"):
        make_task(MAZE, "S-dense")
    with pytest.raises(ValueError, match="make_task: variant must be an int >= 0"):
        make_task(MAZE, "path-dense", -1)
    with pytest.raises(ValueError, match="make_tasks: n_episodes must be a positive int"):
        make_tasks(MAZE, 0)


@pytest.mark.parametrize(
    ("goals", "match"),
    [
        (np.zeros(3), r"goals must have shape \[N, D\].*got shape \(3,\)"),
        (np.zeros((0, 2)), r"goals must have shape \[N, D\].*got shape \(0, 2\)"),
        (np.array([[0.0, 1.0], [np.nan, 0.0]]), r"goals must be finite; got nan at index \(1, 0\)"),
        ("abc", "goals must be a numeric array"),
    ],
)
def test_goal_task_rejects_bad_goals(goals, match):
    with pytest.raises(ValueError, match="GoalTask: " + match):
        GoalTask(MAZE, "x", goals, 10, 0.45)


def test_goal_task_fields():
    goals = np.zeros((2, 2), dtype=np.float32)
    task = GoalTask(MAZE, "x", goals, 10, 0.45)
    goals[0, 0] = 5.0  # a copy is stored
    assert task.goals.dtype == np.float64 and task.goals[0, 0] == 0.0
    with pytest.raises(ValueError, match="read-only"):
        task.goals[0, 0] = 1.0
    with pytest.raises(ValueError, match="GoalTask: max_steps must be a positive int"):
        GoalTask(MAZE, "x", goals, 0, 0.45)
    with pytest.raises(ValueError, match="GoalTask: threshold must be a finite number"):
        GoalTask(MAZE, "x", goals, 10, 0.0)
    with pytest.raises(ValueError, match="GoalTask: name must be a non-empty str"):
        GoalTask(MAZE, "", goals, 10, 0.45)


# ---------------------------------------------------------------------------------------------------
# Starting an episode on the first goal
# ---------------------------------------------------------------------------------------------------


def test_reset_puts_the_block_on_the_first_goal(push_env):
    plain, _ = push_env.reset(seed=3)
    for variant in range(4):
        task = make_task(PUSH, "U-dense", variant)
        obs = reset_to_first_goal(push_env, task, seed=3)
        np.testing.assert_allclose(obs["achieved_goal"], task.goals[0], atol=1e-5)
        np.testing.assert_array_equal(obs["observation"][3:6], obs["achieved_goal"])  # the block's position
        np.testing.assert_array_equal(
            obs["observation"][:3], plain["observation"][:3]
        )  # the gripper's reset pose
        after, *_ = push_env.step(np.zeros(4))
        np.testing.assert_allclose(after["achieved_goal"], task.goals[0], atol=1e-4)  # the block rests


def test_reset_puts_the_point_on_the_first_goal(maze_env):
    task = make_task(MAZE, "path-dense")
    obs = reset_to_first_goal(maze_env, task, seed=0)
    np.testing.assert_array_equal(obs["achieved_goal"], (-2.5, 2.5))
    np.testing.assert_array_equal(obs["observation"], (-2.5, 2.5, 0.0, 0.0))
    np.testing.assert_array_equal(maze_env.unwrapped.point_env.data.qpos, (-2.5, 2.5))
    after, *_ = maze_env.step(np.zeros(2))
    np.testing.assert_allclose(after["achieved_goal"], (-2.5, 2.5), atol=1e-9)


def test_reset_rejects_other_envs(push_env, maze_env):
    pendulum = make_env("Pendulum-v1")
    with pytest.raises(
        ValueError, match="reset_to_first_goal: env must have dict observations holding 'achieved_goal'"
    ):
        reset_to_first_goal(pendulum, make_task(MAZE, "path-sparse"), seed=0)
    pendulum.close()
    with pytest.raises(ValueError, match=r"reset_to_first_goal: task.goals must have the dimension .*\(3,\)"):
        reset_to_first_goal(push_env, make_task(MAZE, "path-sparse"), seed=0)
    with pytest.raises(ValueError, match=r"task.goals must have the dimension .*\(2,\)"):
        reset_to_first_goal(maze_env, make_task(PUSH, "L-sparse"), seed=0)
    with pytest.raises(ValueError, match="reset_to_first_goal: seed must be an int >= 0"):
        reset_to_first_goal(maze_env, make_task(MAZE, "path-sparse"), seed=-1)


def test_run_task_runs_the_whole_budget(push_env, maze_env):
    # one goal on the start: reached after the first step; no early stop, and past Fetch's TimeLimit (50)
    task = GoalTask(PUSH, "stay", make_task(PUSH, "L-sparse").goals[:1], 60, 0.05)
    out = run_task(push_env, lambda obs: np.zeros(4), task, seed=0)
    assert out == {"w_min": pytest.approx(0.0, abs=1e-4), "goal_fraction": 1.0, "success": True, "steps": 60}
    task = make_task(MAZE, "path-sparse")
    out = run_task(maze_env, lambda obs: np.zeros(2), dataclasses.replace(task, max_steps=20), seed=0)
    assert out["steps"] == 20 and out["goal_fraction"] == 1 / 8 and not out["success"]


# ---------------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------------

LINE = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])


def test_metrics_in_order_reversed_and_standing_still():
    in_order = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    assert goal_fraction(LINE, in_order, 0.1) == 1.0
    # the reset state is not tested: starting on goal 0 does not count it
    assert goal_fraction(LINE, in_order[1:], 0.1) == pytest.approx(2 / 3)
    assert w_min(LINE, in_order[1:]) == pytest.approx(0.0, abs=1e-12)
    assert goal_fraction(LINE, in_order[::-1], 0.1) == pytest.approx(1 / 3)
    still = np.zeros((6, 2))
    assert goal_fraction(LINE, still, 0.1) == pytest.approx(1 / 3)
    assert w_min(LINE, still) == pytest.approx(1.0)  # (0 + 1 + 2) / 3
    assert goal_fraction(LINE, still[:1], 0.1) == 0.0 and w_min(LINE, still[:1]) == pytest.approx(1.0)


def test_goal_fraction_counts_goals_reached_together_in_order():
    close = np.array([[0.0, 0.0], [0.05, 0.0], [0.1, 0.0]])
    assert goal_fraction(close, np.array([[5.0, 5.0], [0.05, 0.0]]), 0.06) == 1.0
    # 2, then 0 and 1: the longest increasing run is 0, 1
    history = np.array([[5.0, 5.0], [2.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    assert goal_fraction(LINE, history, 0.1) == pytest.approx(2 / 3)


def test_w_min_matches_pot():
    rng = np.random.default_rng(0)
    goals, history = rng.normal(size=(7, 3)), rng.normal(size=(12, 3))
    expected = min(
        ot.emd2(np.full(7, 1 / 7), np.full(k, 1 / k), ot.dist(goals, history[:k], metric="euclidean"))
        for k in range(1, 13)
    )
    assert w_min(goals, history) == pytest.approx(expected, abs=1e-10)


def test_tracker_matches_the_functions():
    rng = np.random.default_rng(1)
    task = GoalTask(MAZE, "walk", rng.uniform(-1, 1, size=(6, 2)), 40, 0.3)
    history = np.cumsum(rng.normal(scale=0.2, size=(31, 2)), axis=0)
    tracker = GoalTracker(task, history[0])
    for t, point in enumerate(history[1:], start=1):
        tracker.update(point)
        if t in (10, 30):  # read mid-episode too: the W of later prefixes are added on the next read
            assert tracker.w_min == pytest.approx(w_min(task.goals, history[: t + 1]), abs=1e-12)
            assert tracker.goal_fraction == goal_fraction(task.goals, history[: t + 1], task.threshold)
    assert tracker.n_steps == 30
    np.testing.assert_array_equal(tracker.history, history)
    assert tracker.success == (tracker.goal_fraction == 1.0)


def test_metric_errors():
    with pytest.raises(
        ValueError, match=r"w_min: history must hold points of dimension 2; got shape \(4, 3\)"
    ):
        w_min(LINE, np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"w_min: goals must have shape \[N, D\]"):
        w_min(np.zeros((0, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="goal_fraction: history must be finite"):
        goal_fraction(LINE, np.array([[0.0, 0.0], [np.inf, 0.0]]), 0.1)
    with pytest.raises(ValueError, match="goal_fraction: threshold must be a finite number"):
        goal_fraction(LINE, np.zeros((2, 2)), -1.0)
    tracker = GoalTracker(GoalTask(MAZE, "x", LINE, 10, 0.1), np.zeros(2))
    with pytest.raises(ValueError, match=r"GoalTracker.update: achieved_goal must have shape \(2,\)"):
        tracker.update(np.zeros(3))
    with pytest.raises(ValueError, match="GoalTracker.update: achieved_goal must be finite"):
        tracker.update(np.array([np.nan, 0.0]))

"""The scripted PointMaze expert (D4RL's maze2d recipe), the Fetch expert and their epsilon-random versions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import (
    FETCH_FALL_DEPTH,
    FETCH_TABLE,
    FetchController,
    FetchTableResets,
    MazeWaypointController,
    controller_for,
    data_resets,
    epsilon_policy,
    make_data_env,
    noisy_policy,
    place_block,
)


def test_scripted_pointmaze_expert_reaches_the_goal():
    for env_id in ("PointMaze_UMaze-v3", "PointMaze_Medium-v3"):
        env = make_env(env_id)
        trajs = rollout(env, MazeWaypointController(env), n_episodes=20, seed=123, info_keys=("success",))
        reached = [t.infos["success"].any() for t in trajs]
        assert np.mean(reached) >= 0.95, (env_id, np.mean(reached))
        noisy = rollout(
            env, epsilon_policy(MazeWaypointController(env), env.action_space, 1.0), n_episodes=5, seed=123
        )
        assert np.mean([t.rews.sum() for t in noisy]) < np.mean([t.rews.sum() for t in trajs])
        env.close()


def test_pointmaze_data_env_gives_a_new_goal_each_time_one_is_reached():
    """D4RL's maze2d recipe: the follower keeps moving between goals instead of parking on its first
    (the env's default), so the data does not stand still for most of each episode."""
    env = make_data_env("PointMaze_UMaze-v3")
    assert data_resets("PointMaze_UMaze-v3") == {"reset_target": True}
    (traj,) = rollout(env, MazeWaypointController(env), n_episodes=1, seed=3, info_keys=("success",))
    goals = np.unique(traj.obs["desired_goal"].round(3), axis=0)
    assert len(goals) >= 3, goals  # several goals reached in one 300-step episode
    speed = np.linalg.norm(traj.obs["observation"][:, 2:4], axis=-1)
    assert np.median(speed) > 0.5, np.median(speed)
    parked = make_env("PointMaze_UMaze-v3")
    (still,) = rollout(parked, MazeWaypointController(parked), n_episodes=1, seed=3)
    assert np.median(np.linalg.norm(still.obs["observation"][:, 2:4], axis=-1)) < np.median(speed)
    env.close()
    parked.close()


@pytest.mark.parametrize("env_id", ["FetchPush-v4", "FetchPickAndPlace-v4"])
def test_scripted_fetch_expert_moves_the_block_to_the_goal(env_id):
    env = make_env(env_id)
    controller = controller_for(env)
    assert isinstance(controller, FetchController)
    trajs = rollout(env, controller, n_episodes=10, seed=7, info_keys=("is_success",))
    final = [t.infos["is_success"][-1] for t in trajs]  # still at the goal when the episode ends
    assert np.mean(final) >= 0.9, np.mean(final)
    noisy = rollout(env, epsilon_policy(controller, env.action_space, 1.0), n_episodes=5, seed=7)
    assert np.mean([t.rews.sum() for t in noisy]) < np.mean([t.rews.sum() for t in trajs])
    env.close()


def test_fetch_data_resets_spread_gripper_block_and_goal_over_the_table():
    env = make_data_env("FetchPush-v4")
    assert isinstance(env, FetchTableResets) and not isinstance(
        make_data_env("Pendulum-v1"), FetchTableResets
    )
    rest = make_env("FetchPush-v4").reset(seed=0)[0]
    obs = [env.reset(seed=s)[0] for s in range(100)]
    grips, blocks = (np.array([o["observation"][i : i + 3] for o in obs]) for i in (0, 3))
    goals = np.array([o["desired_goal"] for o in obs])
    lo, hi = [FETCH_TABLE["x"][0], FETCH_TABLE["y"][0]], [FETCH_TABLE["x"][1], FETCH_TABLE["y"][1]]
    for xy in (grips[:, :2], blocks[:, :2], goals[:, :2]):
        assert (xy >= lo - np.array(0.02)).all() and (xy <= hi + np.array(0.02)).all()
        # the env's own draws stay within 15 cm of the gripper's rest (y 0.60-0.90); these reach the ends
        assert xy[:, 1].min() < 0.5 and xy[:, 1].max() > 1.0
    assert np.linalg.norm(blocks[:, :2] - grips[:, :2], axis=1).min() >= 0.1  # as the env keeps it
    assert np.allclose(blocks[:, 2], rest["observation"][5], atol=1e-3)  # at rest on the table
    assert np.allclose(grips[:, 2], rest["observation"][2], atol=0.02)  # the gripper's reset height
    assert np.allclose(goals[:, 2], rest["desired_goal"][2])  # on the table, as the env's
    assert np.allclose(obs[3]["achieved_goal"], blocks[3])  # the observation is recomputed
    assert np.array_equal(obs[3]["observation"], env.reset(seed=3)[0]["observation"])  # seeded
    # the scripted pusher still succeeds from there (the longest diagonals do not fit in 50 steps)
    trajs = rollout(env, FetchController(env), n_episodes=10, seed=7, info_keys=("is_success",))
    assert np.mean([t.infos["is_success"][-1] for t in trajs]) >= 0.7
    with pytest.raises(ValueError, match="FetchTableResets: env must be a Fetch env with a block"):
        FetchTableResets(make_env("FetchReach-v4"))


def test_fetch_data_episode_ends_when_the_block_falls_off_the_table():
    env = make_data_env("FetchPush-v4")
    env.reset(seed=0)
    still = np.zeros(env.action_space.shape, np.float32)
    assert not any(env.step(still)[3] for _ in range(5))  # on the table: the episode goes on
    place_block(env.unwrapped, np.array([1.30, 1.16]))  # just past the table's edge (y 1.10)
    ends = [env.step(still)[3] for _ in range(10)]
    assert ends[-1] and not ends[0]  # it falls, then the episode says so
    assert data_resets("FetchPush-v4")["end_when_block_falls_m"] == FETCH_FALL_DEPTH


def test_noisy_policy_perturbs_the_expert_and_stays_in_the_box():
    """DDPG's exploration: no noise is the policy itself; noise has the asked std, is clipped to the box
    and is seeded by the rollout's generator."""
    box = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    expert = lambda obs, t, rng: np.array([0.9, 0.0, -1.0])  # noqa: E731
    same = noisy_policy(expert, box, 0.0)
    np.testing.assert_array_equal(same(None, 0, np.random.default_rng(0)), np.float32([0.9, 0.0, -1.0]))
    noisy = noisy_policy(expert, box, 0.2)
    acts = np.stack([noisy(None, t, np.random.default_rng(t)) for t in range(2000)])
    assert acts.dtype == np.float32 and acts.min() >= -1.0 and acts.max() <= 1.0
    np.testing.assert_allclose(acts[:, 1].std(), 0.2, atol=0.02)  # std 0.2 x half-range 1
    assert np.mean(acts[:, 0] == 1.0) > 0.25  # 0.9 + noise, clipped at the box
    np.testing.assert_array_equal(noisy(None, 5, np.random.default_rng(5)), acts[5])
    with pytest.raises(
        ValueError, match=r"noisy_policy: std must be a finite number in \[0, inf\); got -0.1"
    ):
        noisy_policy(expert, box, -0.1)
    with pytest.raises(ValueError, match="noisy_policy: action_space must be a gymnasium Box; got Discrete"):
        noisy_policy(expert, gym.spaces.Discrete(2), 0.2)
    with pytest.raises(ValueError, match="noisy_policy: action_space must be bounded"):
        noisy_policy(expert, gym.spaces.Box(-np.inf, np.inf, (3,), np.float32), 0.2)


def test_epsilon_policy_checks_its_arguments():
    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    with pytest.raises(
        ValueError, match=r"epsilon_policy: epsilon must be a finite number in \[0, 1\]; got 1.5"
    ):
        epsilon_policy(lambda obs, t, rng: obs, box, 1.5)
    with pytest.raises(
        ValueError, match="epsilon_policy: action_space must be a gymnasium Box; got Discrete"
    ):
        epsilon_policy(lambda obs, t, rng: obs, gym.spaces.Discrete(2), 0.5)
    # a uniform draw over an unbounded box would be inf / NaN actions
    with pytest.raises(
        ValueError, match=r"epsilon_policy: action_space must be bounded \(its random actions"
    ):
        epsilon_policy(lambda obs, t, rng: obs, gym.spaces.Box(-np.inf, np.inf, (3,), np.float32), 0.5)
    with pytest.raises(
        ValueError, match="MazeWaypointController: env must be a gymnasium-robotics PointMaze"
    ):
        MazeWaypointController(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="FetchController: env must be a gymnasium-robotics FetchPush or"):
        FetchController(make_env("PointMaze_UMaze-v3"))

"""The scripted PointMaze expert (D4RL's maze2d recipe), the Fetch expert and their epsilon-random versions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import rollout
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import FetchController, MazeWaypointController, controller_for, epsilon_policy


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
    with pytest.raises(
        ValueError, match="MazeWaypointController: env must be a gymnasium-robotics PointMaze"
    ):
        MazeWaypointController(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="FetchController: env must be a gymnasium-robotics FetchPush or"):
        FetchController(make_env("PointMaze_UMaze-v3"))

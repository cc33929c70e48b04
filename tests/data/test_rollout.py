import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import Trajectory, rollout, sinusoidal_policy


def test_rollout_is_seeded_and_marks_timeouts():
    first = rollout("Pendulum-v1", n_episodes=2, max_steps=15, seed=3)
    again = rollout("Pendulum-v1", n_episodes=2, max_steps=15, seed=3)
    other = rollout("Pendulum-v1", n_episodes=2, max_steps=15, seed=4)
    assert all(isinstance(t, Trajectory) for t in first)
    assert [len(t) for t in first] == [15, 15]
    assert first == again and first != other
    assert not any(t.terminated for t in first)  # cut by max_steps: a timeout, not a terminal


def test_rollout_records_terminals_and_discrete_actions():
    (traj,) = rollout("CartPole-v1", n_episodes=1, seed=0)  # random actions topple the pole quickly
    assert traj.terminated and len(traj) < 200
    assert traj.acts.shape == (len(traj),) and traj.obs.shape == (len(traj) + 1, 4)


def test_sinusoidal_policy_stays_in_bounds_and_differs_by_seed():
    space = gym.spaces.Box(-2.0, 1.0, shape=(3,), dtype=np.float32)
    p0, p1 = sinusoidal_policy(space, seed=0, noise=5.0), sinusoidal_policy(space, seed=1)
    rng = np.random.default_rng(0)
    acts = np.array([p0(None, t, rng) for t in range(50)])
    assert acts.dtype == np.float32 and acts.min() >= -2.0 and acts.max() <= 1.0
    assert not np.allclose(acts[:5], [p1(None, t, rng) for t in range(5)])


def test_rollout_and_policy_reject_bad_arguments():
    with pytest.raises(ValueError, match="n_episodes: expected a positive int"):
        rollout("Pendulum-v1", n_episodes=0)
    with pytest.raises(ValueError, match="max_steps: expected a positive int"):
        rollout("Pendulum-v1", max_steps=0)
    with pytest.raises(ValueError, match="action_space: expected a gymnasium Box, got Discrete"):
        sinusoidal_policy(gym.spaces.Discrete(2), seed=0)

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
    with pytest.raises(ValueError, match="rollout: n_episodes must be a positive int; got 0"):
        rollout("Pendulum-v1", n_episodes=0)
    with pytest.raises(ValueError, match="rollout: max_steps must be a positive int; got 0"):
        rollout("Pendulum-v1", max_steps=0)
    with pytest.raises(ValueError, match=r"rollout: total_steps must be an int; got 2.5"):
        rollout("Pendulum-v1", n_episodes=None, total_steps=2.5)
    with pytest.raises(ValueError, match="rollout: n_episodes=None needs total_steps"):
        rollout("Pendulum-v1", n_episodes=None)
    with pytest.raises(ValueError, match="rollout: seed must be an int >= 0; got -1"):
        rollout("Pendulum-v1", seed=-1)
    with pytest.raises(ValueError, match="rollout: policy must be callable"):
        rollout("Pendulum-v1", policy="random")
    with pytest.raises(ValueError, match="rollout: 'Pendulum-v9' is not a registered Gymnasium env id"):
        rollout("Pendulum-v9")
    with pytest.raises(ValueError, match=r"rollout: info_keys: 'success' is not in the env's step info"):
        rollout("Pendulum-v1", max_steps=2, info_keys=("success",))
    with pytest.raises(
        ValueError, match="sinusoidal_policy: action_space must be a gymnasium Box; got Discrete"
    ):
        sinusoidal_policy(gym.spaces.Discrete(2), seed=0)
    # an unbounded box would give NaN actions (its mid-range is inf - inf)
    with pytest.raises(ValueError, match="sinusoidal_policy: action_space must be bounded"):
        sinusoidal_policy(gym.spaces.Box(-np.inf, np.inf, (2,), np.float32), seed=0)
    with pytest.raises(ValueError, match="sinusoidal_policy: noise must be a finite number"):
        sinusoidal_policy(gym.spaces.Box(-1, 1, (2,)), seed=0, noise=-1.0)


def test_rollout_accepts_numpy_integers_and_cuts_to_total_steps():
    plain = rollout("Pendulum-v1", n_episodes=None, total_steps=250, max_steps=120, seed=2)
    numpy = rollout(
        "Pendulum-v1", n_episodes=None, total_steps=np.int64(250), max_steps=np.int32(120), seed=np.uint8(2)
    )
    assert plain == numpy
    assert [len(t) for t in plain] == [120, 120, 10] and not any(t.terminated for t in plain)
    assert len(rollout("Pendulum-v1", n_episodes=np.int64(2), max_steps=3)) == 2

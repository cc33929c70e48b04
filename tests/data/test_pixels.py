import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import Trajectory
from sb3_ot.data.pixels import (
    FRAME_SIZE,
    PixelObservationWrapper,
    frame_to_gray,
    make_pixel_env,
    render_pixel_trajectories,
)

ENV_ID = "Pendulum-v1"
# torques beyond +-2 are clipped by the env; 0 draws no arrow, signs flip it
ACTIONS = np.array([[1.5], [-2.0], [0.0], [2.7], [-0.3], [0.8], [-3.0], [1.0]], dtype=np.float32)


def _wrapped_rollout(frame_stack: int, seed: int = 3) -> tuple[Trajectory, np.ndarray]:
    """Step the real env (wrapped) with ACTIONS: the state trajectory and the wrapper's pixel obs."""
    env = make_pixel_env(ENV_ID, frame_stack=frame_stack)
    pixels, info = env.reset(seed=seed)
    states, frames, rews = [info["state"]], [pixels], []
    for action in ACTIONS:
        pixels, rew, _, _, info = env.step(action)
        states.append(info["state"])
        frames.append(pixels)
        rews.append(rew)
    env.close()
    infos = {"step": np.arange(len(ACTIONS))}
    traj = Trajectory(np.array(states), ACTIONS, np.array(rews), terminated=False, infos=infos)
    return traj, np.array(frames)


def test_wrapper_gives_stacked_uint8_frames_and_keeps_the_state():
    env = make_pixel_env(ENV_ID)
    assert env.observation_space == gym.spaces.Box(0, 255, (3, FRAME_SIZE, FRAME_SIZE), np.uint8)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, FRAME_SIZE, FRAME_SIZE) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    assert (obs == obs[0]).all()  # the stack starts as copies of the first frame
    state = env.unwrapped._get_obs()
    assert info["state"].dtype == np.float32 and np.array_equal(info["state"], state)

    next_obs, _, _, _, info = env.step(np.array([1.0], np.float32))
    assert env.observation_space.contains(next_obs)
    assert np.array_equal(next_obs[:2], obs[1:])  # the oldest frame leaves, the newest enters
    assert not np.array_equal(next_obs[2], obs[2])
    assert info["state"].shape == (3,) and np.array_equal(info["state"], env.unwrapped._get_obs())
    env.close()


def test_wrapper_with_one_frame():
    env = PixelObservationWrapper(gym.make(ENV_ID, render_mode="rgb_array"), frame_stack=1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (1, FRAME_SIZE, FRAME_SIZE) and env.observation_space.contains(obs)
    obs, *_ = env.step(np.zeros(1, np.float32))
    assert obs.shape == (1, FRAME_SIZE, FRAME_SIZE)
    env.close()


@pytest.mark.parametrize("frame_stack", [3, 1])
def test_rendered_dataset_equals_the_wrappers_frames(frame_stack):
    traj, wrapper_frames = _wrapped_rollout(frame_stack)
    (pixel,) = render_pixel_trajectories([traj], ENV_ID, frame_stack=frame_stack, progress=False)

    assert pixel.obs.shape == (len(ACTIONS) + 1, frame_stack, FRAME_SIZE, FRAME_SIZE)
    assert pixel.obs.dtype == np.uint8
    assert np.array_equal(pixel.obs, wrapper_frames)  # every frame, every channel, exactly
    first = wrapper_frames[0, -1]
    if frame_stack == 3:
        assert all(np.array_equal(c, first) for c in pixel.obs[0])  # t=0: three copies of frame 0
        assert np.array_equal(pixel.obs[1, :2], [first, first])  # t=1: frames 0, 0, 1
        assert np.array_equal(pixel.obs[1, 2], wrapper_frames[1, -1])
    assert not np.array_equal(pixel.obs[0, -1], pixel.obs[-1, -1])  # the pendulum moved

    assert pixel.infos["state"].dtype == np.float32
    assert np.array_equal(pixel.infos["state"], traj.obs[1:])
    assert np.array_equal(pixel.infos["step"], traj.infos["step"])
    assert np.array_equal(pixel.acts, traj.acts) and np.array_equal(pixel.rews, traj.rews)
    assert pixel.terminated is False


def test_observation_only_trajectories_render_too():
    traj, _ = _wrapped_rollout(1)
    (pixel,) = render_pixel_trajectories([Trajectory(traj.obs, terminated=False)], ENV_ID, progress=False)
    assert pixel.obs.shape == (len(ACTIONS) + 1, 3, FRAME_SIZE, FRAME_SIZE) and pixel.acts is None


def test_wrapper_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"render_mode=None\. Pass render_mode='rgb_array' to make_env"):
        PixelObservationWrapper(gym.make(ENV_ID))
    with pytest.raises(ValueError, match="PixelObservationWrapper: frame_stack must be an int >= 1; got 0"):
        PixelObservationWrapper(gym.make(ENV_ID, render_mode="rgb_array"), frame_stack=0)
    with pytest.raises(ValueError, match="make_pixel_env: frame_stack must be an int >= 1; got 2.0"):
        make_pixel_env(ENV_ID, frame_stack=2.0)


def test_render_pixel_trajectories_rejects_bad_arguments():
    good = Trajectory(np.zeros((3, 3), np.float32), np.zeros((2, 1), np.float32), terminated=False)
    func = "render_pixel_trajectories"
    with pytest.raises(
        ValueError, match=rf"{func}: env_id 'CartPole-v1' is not supported.*\['Pendulum-v1'\]"
    ):
        render_pixel_trajectories([good], "CartPole-v1")
    with pytest.raises(ValueError, match=f"{func}: frame_stack must be an int >= 1; got 0"):
        render_pixel_trajectories([good], ENV_ID, frame_stack=0)
    with pytest.raises(ValueError, match=f"{func}: trajectories must hold at least one Trajectory; got none"):
        render_pixel_trajectories([], ENV_ID)
    with pytest.raises(ValueError, match=rf"{func}: trajectories\[1\] must be a Trajectory; got ndarray"):
        render_pixel_trajectories([good, np.zeros((3, 3))], ENV_ID)
    dict_obs = Trajectory({"observation": np.zeros((3, 3))}, terminated=False)
    with pytest.raises(ValueError, match=rf"{func}: trajectories\[0\] has dict observations"):
        render_pixel_trajectories([dict_obs], ENV_ID)
    wide = Trajectory(np.zeros((3, 4), np.float32), terminated=False)
    with pytest.raises(ValueError, match=r"state observations \[T\+1, 3\]; got shape \(3, 4\)"):
        render_pixel_trajectories([good, wide], ENV_ID, progress=False)


def test_frame_to_gray():
    rgb = np.random.default_rng(0).integers(0, 256, (500, 400, 3), dtype=np.uint8)
    gray = frame_to_gray(rgb)
    assert gray.shape == (FRAME_SIZE, FRAME_SIZE) and gray.dtype == np.uint8
    assert np.array_equal(frame_to_gray(np.full((10, 10, 3), 255, np.uint8)), np.full((64, 64), 255))
    with pytest.raises(
        ValueError, match=r"frame_to_gray: rgb must have shape \[H, W, 3\]; got shape \(8, 8\)"
    ):
        frame_to_gray(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"got shape \(8, 8, 4\)"):
        frame_to_gray(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(ValueError, match="frame_to_gray: rgb must be uint8 \\(0..255\\); got dtype float32"):
        frame_to_gray(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="must be a numpy array .* got list"):
        frame_to_gray([[[0, 0, 0]]])

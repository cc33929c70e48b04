"""Pixel observations: a Gymnasium wrapper for live envs and a renderer for stored state datasets.

A pixel world model consumes uint8 frames ``[..., C, 64, 64]`` (channels first, see
:func:`sb3_ot.nn.image_tensor`). Two pieces give it such frames, and the same frames in both places:

* :class:`PixelObservationWrapper` (and :func:`make_pixel_env`) turns a live env made with
  ``render_mode="rgb_array"`` into one whose observations are the last ``frame_stack`` grayscale
  64 x 64 frames of ``env.render()``, stacked channels first; the state observation stays in
  ``info["state"]``. This is what a policy sees at deployment.
* :func:`render_pixel_trajectories` turns stored state trajectories into pixel trajectories by putting
  each stored state back into the real env and calling its own renderer, so a pixel world model learns
  from exactly the episodes a state model learns from, and the dataset's frames equal the frames the
  wrapper gives after the same steps.

Setting an env's state from an observation is env-specific; :data:`_STATE_SETTERS` holds the envs this
is implemented for (``Pendulum-v1``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image
from tqdm.auto import tqdm

from sb3_ot.data.envs import make_env
from sb3_ot.data.trajectory import Trajectory

__all__ = [
    "DEFAULT_FRAME_STACK",
    "FRAME_SIZE",
    "PixelObservationWrapper",
    "frame_to_gray",
    "make_pixel_env",
    "render_pixel_trajectories",
]

#: Side of the square grayscale frames, the world model's input size (``sb3_ot.nn.IMAGE_SIZE``).
FRAME_SIZE = 64
#: Frames stacked per observation by default (enough to see velocity in one observation).
DEFAULT_FRAME_STACK = 3

#: Puts a state back into an env: ``setter(env, obs_t, prev_action)`` with the state observation
#: ``obs_t`` ``[obs_dim]`` and the action ``a_{t-1}`` that led to it (``None`` at ``t = 0``).
StateSetter = Callable[[gym.Env, np.ndarray, np.ndarray | None], None]


def frame_to_gray(rgb: np.ndarray) -> np.ndarray:
    """An RGB frame ``[H, W, 3]`` uint8 (``env.render()`` with ``render_mode="rgb_array"``) as a
    grayscale frame ``[64, 64]`` uint8 (PIL's ``"L"`` conversion, then a bilinear resize).

    Raises
    ------
    ValueError
        If ``rgb`` is not a uint8 numpy array of shape ``[H, W, 3]``.
    """
    if not isinstance(rgb, np.ndarray):
        raise ValueError(
            f"frame_to_gray: rgb must be a numpy array [H, W, 3] uint8; got {type(rgb).__name__}"
        )
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"frame_to_gray: rgb must have shape [H, W, 3]; got shape {rgb.shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"frame_to_gray: rgb must be uint8 (0..255); got dtype {rgb.dtype}")
    gray = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    return np.asarray(gray.resize((FRAME_SIZE, FRAME_SIZE), Image.BILINEAR), dtype=np.uint8)


def _check_frame_stack(frame_stack: Any, func: str) -> int:
    """Return ``frame_stack`` if it is an int ``>= 1`` (bools refused), else raise naming ``func``."""
    if isinstance(frame_stack, bool) or not isinstance(frame_stack, int | np.integer) or frame_stack < 1:
        raise ValueError(f"{func}: frame_stack must be an int >= 1; got {frame_stack!r}")
    return int(frame_stack)


def _state_copy(obs: Any) -> np.ndarray | dict[str, np.ndarray]:
    """A float32 copy of a state observation (of each value, for dict observations)."""
    if isinstance(obs, Mapping):
        return {key: np.array(value, dtype=np.float32) for key, value in obs.items()}
    return np.array(obs, dtype=np.float32)


class PixelObservationWrapper(gym.Wrapper):
    """Observations as the last ``frame_stack`` grayscale 64 x 64 frames of ``env.render()``.

    Observations are uint8 ``[frame_stack, 64, 64]``, oldest frame first (channels first, as
    :func:`sb3_ot.nn.image_tensor` expects). On reset the stack holds ``frame_stack`` copies of the
    first frame. The underlying state observation is kept, as a float32 copy, in ``info["state"]``
    at reset and after every step.

    Parameters
    ----------
    env : gym.Env
        An env made with ``render_mode="rgb_array"``.
    frame_stack : int
        Number of frames per observation, ``>= 1``.

    Raises
    ------
    ValueError
        If ``env`` does not render ``rgb_array`` frames, or ``frame_stack`` is not an int ``>= 1``.
    """

    def __init__(self, env: gym.Env, frame_stack: int = DEFAULT_FRAME_STACK) -> None:
        frame_stack = _check_frame_stack(frame_stack, "PixelObservationWrapper")
        render_mode = getattr(env, "render_mode", None)
        if render_mode != "rgb_array":
            raise ValueError(
                f"PixelObservationWrapper: env must render RGB frames (render_mode='rgb_array'); got "
                f"render_mode={render_mode!r}. Pass render_mode='rgb_array' to make_env / gym.make "
                "(or use make_pixel_env)"
            )
        super().__init__(env)
        self.frame_stack = frame_stack
        self.observation_space = spaces.Box(0, 255, (frame_stack, FRAME_SIZE, FRAME_SIZE), np.uint8)
        self._frames: deque[np.ndarray] = deque(maxlen=frame_stack)

    def _gray_frame(self) -> np.ndarray:
        """The env's current frame, grayscale ``[64, 64]`` uint8."""
        return frame_to_gray(self.env.render())

    def _stacked(self) -> np.ndarray:
        """The frame stack, ``[frame_stack, 64, 64]`` uint8 (a new array)."""
        return np.stack(self._frames)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the env; the observation is ``frame_stack`` copies of the first frame."""
        obs, info = self.env.reset(seed=seed, options=options)
        frame = self._gray_frame()
        self._frames.clear()
        self._frames.extend([frame] * self.frame_stack)
        return self._stacked(), {**info, "state": _state_copy(obs)}

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        """Step the env; the newest frame enters the stack and the oldest leaves it."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(self._gray_frame())
        return self._stacked(), reward, terminated, truncated, {**info, "state": _state_copy(obs)}


def make_pixel_env(env_id: str, frame_stack: int = DEFAULT_FRAME_STACK, **kwargs: Any) -> gym.Env:
    """``make_env(env_id, render_mode="rgb_array", **kwargs)`` wrapped in :class:`PixelObservationWrapper`.

    Observations are uint8 ``[frame_stack, 64, 64]``; the state observation is in ``info["state"]``.
    """
    frame_stack = _check_frame_stack(frame_stack, "make_pixel_env")
    return PixelObservationWrapper(make_env(env_id, render_mode="rgb_array", **kwargs), frame_stack)


def _set_pendulum_state(env: gym.Env, obs: np.ndarray, prev_action: np.ndarray | None) -> None:
    """Pendulum-v1: ``obs = [cos th, sin th, th_dot]``; ``render`` draws the rod at ``state[0]`` and a
    torque arrow sized by ``last_u`` (none when ``last_u`` is ``None``, as after ``reset``).

    ``last_u`` is set as ``PendulumEnv.step`` sets it, ``np.clip(u, -max_torque, max_torque)[0]``: a
    numpy scalar of the action's dtype, not a Python float. Under NumPy 2's promotion rules the arrow
    size ``scale * |last_u| / 2`` is then computed in the same precision as after a real step.
    """
    u = env.unwrapped
    # float64, as the env keeps it: a float32 angle would make render's rotation float32
    u.state = np.array([np.arctan2(float(obs[1]), float(obs[0])), float(obs[2])], dtype=np.float64)
    if prev_action is None:
        u.last_u = None
    else:
        u.last_u = np.clip(np.asarray(prev_action).reshape(-1), -u.max_torque, u.max_torque)[0]


#: Env id -> how to put a stored state observation back into that env (see :data:`StateSetter`).
_STATE_SETTERS: dict[str, StateSetter] = {"Pendulum-v1": _set_pendulum_state}


def _state_setter(env_id: Any, func: str) -> StateSetter:
    """The registered state setter of ``env_id``, or a ValueError listing the supported ids."""
    if not isinstance(env_id, str) or env_id not in _STATE_SETTERS:
        raise ValueError(
            f"{func}: env_id {env_id!r} is not supported; pixel datasets are rendered from stored states, "
            f"which needs a way to set the env's state; supported ids: {sorted(_STATE_SETTERS)}"
        )
    return _STATE_SETTERS[env_id]


def _check_state_trajectories(trajectories: Iterable[Trajectory], func: str) -> list[Trajectory]:
    """``trajectories`` as a non-empty list of Trajectory with array (not dict) observations."""
    trajs = list(trajectories)
    if not trajs:
        raise ValueError(f"{func}: trajectories must hold at least one Trajectory; got none")
    for i, traj in enumerate(trajs):
        if not isinstance(traj, Trajectory):
            raise ValueError(f"{func}: trajectories[{i}] must be a Trajectory; got {type(traj).__name__}")
        if traj.is_dict_obs:
            raise ValueError(
                f"{func}: trajectories[{i}] has dict observations (keys {sorted(traj.obs)}); "
                "pixel rendering needs array state observations [T+1, obs_dim]"
            )
    return trajs


def _check_obs_width(trajs: list[Trajectory], space: spaces.Space, env_id: str, func: str) -> None:
    """Raise unless every trajectory's observations are ``[T+1, *space.shape]``."""
    for i, traj in enumerate(trajs):
        got = tuple(traj.observations().shape[1:])
        if got != tuple(space.shape or ()):
            raise ValueError(
                f"{func}: trajectories[{i}].obs must be {env_id} state observations [T+1, "
                f"{', '.join(map(str, space.shape or ()))}]; got shape {traj.observations().shape}"
            )


def _stack_frames(frames: np.ndarray, frame_stack: int) -> np.ndarray:
    """Frames ``[N, 64, 64]`` -> stacks ``[N, k, 64, 64]``: stack ``t`` holds frames ``t-k+1 .. t``,
    indices clamped at 0 (the first frame repeats, as :class:`PixelObservationWrapper` after reset)."""
    index = np.arange(len(frames))[:, None] + np.arange(1 - frame_stack, 1)[None, :]
    return frames[np.maximum(index, 0)]


def _render_one(env: gym.Env, setter: StateSetter, traj: Trajectory, frame_stack: int) -> Trajectory:
    """One state trajectory as a pixel trajectory (see :func:`render_pixel_trajectories`)."""
    obs = traj.observations()
    frames = np.empty((len(obs), FRAME_SIZE, FRAME_SIZE), dtype=np.uint8)
    for t in range(len(obs)):
        prev_action = None if t == 0 or traj.acts is None else traj.acts[t - 1]
        setter(env, obs[t], prev_action)
        frames[t] = frame_to_gray(env.render())
    infos = {**(traj.infos or {}), "state": np.asarray(obs[1:], dtype=np.float32)}
    return Trajectory(
        _stack_frames(frames, frame_stack), traj.acts, traj.rews, terminated=traj.terminated, infos=infos
    )


def render_pixel_trajectories(
    trajectories: Iterable[Trajectory],
    env_id: str,
    frame_stack: int = DEFAULT_FRAME_STACK,
    progress: bool = True,
) -> list[Trajectory]:
    """The same episodes with pixel observations, drawn by the real env's renderer from the stored states.

    For every state observation ``o_t`` the env's state is set to ``o_t`` (and, where the renderer
    shows it, the last action to ``a_{t-1}``), the env renders, and the frame is grayed and stacked as
    :class:`PixelObservationWrapper` does, so a dataset frame equals the wrapper's frame after the
    same steps.

    Parameters
    ----------
    trajectories : iterable of Trajectory
        State trajectories of ``env_id``: obs ``[T+1, obs_dim]``. Trajectories without actions render
        without whatever the env draws from the last action (Pendulum's torque arrow).
    env_id : str
        The env the trajectories come from; one of :data:`_STATE_SETTERS` (``"Pendulum-v1"``).
    frame_stack : int
        Frames per observation, ``>= 1``.
    progress : bool
        Show a progress bar over episodes.

    Returns
    -------
    list of Trajectory
        One per input: obs uint8 ``[T+1, frame_stack, 64, 64]``; the same acts, rews and
        ``terminated``; the input's infos plus ``infos["state"]``, the state observations
        ``o_1 .. o_T`` as float32 ``[T, obs_dim]`` (``info["state"]`` of the wrapper after each step;
        an existing ``"state"`` info is replaced).

    Raises
    ------
    ValueError
        If ``env_id`` has no state setter, ``frame_stack`` is not an int ``>= 1``, ``trajectories`` is
        empty, holds a non-Trajectory or dict observations, or observations of another width than
        the env's observation space.
    """
    func = "render_pixel_trajectories"
    setter = _state_setter(env_id, func)
    frame_stack = _check_frame_stack(frame_stack, func)
    trajs = _check_state_trajectories(trajectories, func)
    env = make_env(env_id, render_mode="rgb_array")
    try:
        _check_obs_width(trajs, env.observation_space, env_id, func)
        env.reset(seed=0)  # the renderer's lazily-built parts (and Pendulum's last_u) exist after a reset
        episodes = tqdm(trajs, desc=f"rendering {env_id}", unit="episode", disable=not progress)
        return [_render_one(env, setter, traj, frame_stack) for traj in episodes]
    finally:
        env.close()

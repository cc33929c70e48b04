"""Make Gymnasium envs by id, registering gymnasium-robotics' envs (PointMaze, AntMaze, ...) on demand."""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import gymnasium as gym


def ensure_registered(env_id: str, *, func: str = "make_env") -> None:
    """Import gymnasium-robotics if ``env_id`` is not registered yet (it registers its envs on import).

    Raises
    ------
    ValueError
        If ``env_id`` is not a str, or is still unknown afterwards (the message names ``func``, the
        function the user called, and lists close matches).
    """
    if not isinstance(env_id, str):
        raise ValueError(f"{func}: the env id must be a str; got {type(env_id).__name__}")
    if env_id.startswith("Fetch"):
        _check_fetch_mujoco(func)
    if env_id in gym.registry:
        return
    # its import prints a notice about Adroit reward versions to stderr; not ours to show
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import gymnasium_robotics

        gym.register_envs(gymnasium_robotics)
    if env_id not in gym.registry:
        import difflib

        close = difflib.get_close_matches(env_id, list(gym.registry), n=5, cutoff=0.6)
        raise ValueError(f"{func}: {env_id!r} is not a registered Gymnasium env id; close matches: {close}")


def _check_fetch_mujoco(func: str) -> None:
    """Fetch envs fail deep inside a reset on mujoco >= 3.4 (``set_joint_qpos``): say so up front."""
    import mujoco

    version = mujoco.__version__
    if tuple(int(x) for x in version.split(".")[:2]) >= (3, 4):
        raise RuntimeError(
            f"{func}: gymnasium-robotics' Fetch envs need mujoco < 3.4 (they fail in set_joint_qpos on "
            f"newer releases); found mujoco {version}: pip install 'mujoco>=3.1,<3.4'"
        )


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)`` after :func:`ensure_registered`."""
    ensure_registered(env_id)
    return gym.make(env_id, **kwargs)

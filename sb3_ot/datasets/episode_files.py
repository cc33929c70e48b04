"""On-disk layout of an expert run, and its recorded episodes as one ``.npz`` file.

A run folder ``<home>/experts/<env_id>/<run name>/`` holds

* ``policies/step_<step>.zip`` -- every evaluated policy (``policy.save``);
* ``episodes.npz`` -- every transition the run collected, as episodes (:func:`save_episodes`);
* ``run.json`` -- written last: the run is finished and reusable;
* ``resume/`` -- while unfinished, the latest checkpoint (model, replay buffer, episodes, state).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sb3_ot._files import atomic_write
from sb3_ot.data.rollouts import slice_obs
from sb3_ot.data.trajectory import Trajectory

__all__ = ["RunFiles", "load_episodes", "save_episodes"]


@dataclass(frozen=True)
class RunFiles:
    """Paths inside one expert run folder."""

    root: Path

    @property
    def resume(self) -> Path:
        return self.root / "resume"

    @property
    def done(self) -> Path:
        return self.root / "run.json"

    @property
    def episodes(self) -> Path:
        return self.root / "episodes.npz"

    def policy(self, step: int) -> Path:
        return self.root / "policies" / f"step_{step:09d}.zip"


def save_episodes(path: Path, episodes: list[Trajectory], starts: list[int]) -> None:
    """Episodes (with actions and rewards) and their start steps as one ``.npz``, written atomically.

    Arrays of all episodes are concatenated (``obs`` or ``obs.<key>``, ``acts``, ``rews``) and cut back
    apart with ``n_steps``.
    """
    arrays: dict[str, np.ndarray] = {
        "n_steps": np.array([t.n_steps for t in episodes], dtype=np.int64),
        "terminated": np.array([t.terminated for t in episodes], dtype=np.bool_),
        "start": np.array(starts, dtype=np.int64),
    }
    if episodes:
        if episodes[0].is_dict_obs:
            for key in episodes[0].obs:
                arrays[f"obs.{key}"] = np.concatenate([t.obs[key] for t in episodes])  # type: ignore[index]
        else:
            arrays["obs"] = np.concatenate([t.obs for t in episodes])  # type: ignore[misc]
        arrays["acts"] = np.concatenate([t.acts for t in episodes])  # type: ignore[misc]
        arrays["rews"] = np.concatenate([t.rews for t in episodes])  # type: ignore[misc]
    with atomic_write(path) as tmp:
        np.savez(tmp, **arrays)


def load_episodes(path: Path) -> tuple[list[Trajectory], list[int]]:
    """The episodes and start steps :func:`save_episodes` wrote to ``path``."""
    with np.load(path) as data:
        n_steps, terminated, starts = data["n_steps"], data["terminated"], data["start"].tolist()
        if len(n_steps) == 0:
            return [], []
        obs_keys = [k for k in data.files if k.startswith("obs.")]
        obs_all = {k[4:]: data[k] for k in obs_keys} if obs_keys else data["obs"]
        acts_all, rews_all = data["acts"], data["rews"]
    episodes, o, a = [], 0, 0
    for n, term in zip(n_steps.tolist(), terminated.tolist(), strict=True):
        obs = slice_obs(obs_all, slice(o, o + n + 1))
        episodes.append(Trajectory(obs, acts_all[a : a + n], rews_all[a : a + n], terminated=bool(term)))
        o, a = o + n + 1, a + n
    return episodes, starts

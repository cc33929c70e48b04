"""A dataset and the expert demonstrations taken from it: what each main job (``imitate``, ``dream``) starts from."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sb3_ot._args import check_choice, check_int
from sb3_ot.data.summary import top_episodes
from sb3_ot.data.trajectory import Trajectory

__all__ = ["DatasetWithDemos", "load_with_demos"]


@dataclass(frozen=True)
class DatasetWithDemos:
    """The dataset's episodes, the top expert episodes (with their actions) and the reference returns.

    Attributes
    ----------
    trajs : list of Trajectory
        The dataset of ``kind`` (rewards and actions kept).
    demos_with_actions : list of Trajectory
        The ``experts`` best whole episodes of the env's ``expert`` dataset.
    ref : (float, float)
        D4RL's reference returns ``(random, expert)`` (the datasets' ``ref_min_score``/``ref_max_score``).
    """

    trajs: list[Trajectory]
    demos_with_actions: list[Trajectory]
    ref: tuple[float, float]

    @property
    def demos(self) -> list[Trajectory]:
        """The demonstrations as an imitator sees them: observations only."""
        return [Trajectory(t.obs, None, None, terminated=t.terminated) for t in self.demos_with_actions]

    def describe(self, env: str, kind: str) -> str:
        """One line: the dataset's size and the demos' lengths."""
        steps = sum(len(t) for t in self.trajs)
        lengths = [len(d) for d in self.demos_with_actions]
        return (
            f"{env}: {kind} dataset of {len(self.trajs)} episodes / {steps} steps; "
            f"{len(lengths)} expert demo(s) of {lengths} steps"
        )


def load_with_demos(
    env: str,
    kind: str,
    experts: int,
    *,
    steps: int | None = None,
    expert_steps: int | None = None,
    pick: str = "top",
    data_path: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> DatasetWithDemos:
    """Build (or reuse) ``env``'s ``kind`` dataset and its expert dataset; keep ``experts`` whole expert
    episodes as demonstrations (the expert dataset's last, cut episode is skipped).

    ``pick="top"`` keeps the highest-return episodes; ``"first"`` the first ones in the dataset, a
    sample of the expert's behaviour from its usual starts (on Pendulum the top episodes are those that
    start upright and never swing up). ``steps``/``expert_steps`` are
    :func:`~sb3_ot.datasets.build_dataset`'s (``None``: the env's defaults).
    """
    check_choice(pick, "pick", "load_with_demos", ("top", "first"))
    from sb3_ot.data.minari_io import load_trajectories
    from sb3_ot.datasets.build import build_dataset

    kw: dict[str, Any] = {"seed": 0, "expert_steps": expert_steps, "data_path": data_path}
    kw |= {"progress": progress} | ({"steps": steps} if steps is not None else {})
    ds = build_dataset(env, kind, **kw)
    expert_trajs = load_trajectories(build_dataset(env, "expert", **kw))
    full = max(len(t) for t in expert_trajs)
    min_steps = min(full, max(2, full // 2))
    if pick == "top":
        demos = top_episodes(expert_trajs, experts, min_steps=min_steps)
    else:
        demos = [t for t in expert_trajs if t.n_steps >= min_steps][
            : check_int(experts, "experts", "load_with_demos")
        ]
        if len(demos) < experts:
            raise ValueError(
                f"load_with_demos: experts={experts} asked for, but the expert dataset has {len(demos)} "
                f"whole episodes"
            )
    meta = ds.storage.metadata
    return DatasetWithDemos(
        load_trajectories(ds), demos, (float(meta["ref_min_score"]), float(meta["ref_max_score"]))
    )

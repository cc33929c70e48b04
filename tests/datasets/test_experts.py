"""SB3 experts: cached, resumable runs; their configs and argument checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from stable_baselines3.common.callbacks import BaseCallback

from sb3_ot.datasets import EXPERT_CONFIGS, expert_config, train_expert
from sb3_ot.datasets.episode_files import load_episodes, save_episodes


class _StopAt(BaseCallback):
    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def _on_step(self) -> bool:
        return self.num_timesteps < self.step


def test_interrupted_training_resumes_from_its_checkpoint(tmp_path):
    kwargs = {"steps": 300, "n_ref_episodes": 2, "home": tmp_path, "progress": False}
    with pytest.raises(RuntimeError, match="stopped at step 250 of 300.*resume"):
        train_expert("Pendulum-v1", callback=_StopAt(250), **kwargs)
    (run_dir,) = (tmp_path / "experts" / "Pendulum-v1").iterdir()
    state = json.loads((run_dir / "resume" / "state.json").read_text())
    assert state["num_timesteps"] == 250 and not (run_dir / "run.json").exists()
    run = train_expert("Pendulum-v1", **kwargs)
    assert (run_dir / "run.json").is_file() and not (run_dir / "resume").exists()
    steps = [e["step"] for e in run.evaluations]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 300
    replay = run.replay(300)
    assert sum(len(t) for t in replay) == 300  # every step of both sessions was recorded
    assert [len(t) for t in replay] == [200, 50, 50]  # the episode running at the stop ends as a time-out
    assert not any(t.terminated for t in replay)
    assert train_expert("Pendulum-v1", **kwargs) == run  # finished: loaded from the cache


def test_failed_checkpoint_leaves_the_previous_one_and_no_scratch_folder(tmp_path, monkeypatch):
    kwargs = {"steps": 300, "n_ref_episodes": 2, "home": tmp_path, "progress": False}
    with pytest.raises(RuntimeError, match="stopped at step 250"):
        train_expert("Pendulum-v1", callback=_StopAt(250), **kwargs)
    (run_dir,) = (tmp_path / "experts" / "Pendulum-v1").iterdir()
    before = sorted(os.listdir(run_dir))
    from stable_baselines3 import SAC

    def disk_full(self, path, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(SAC, "save", disk_full)  # resumed, then stopped again: the checkpoint fails
    with pytest.raises(OSError, match="disk full"):
        train_expert("Pendulum-v1", callback=_StopAt(280), **kwargs)
    assert sorted(os.listdir(run_dir)) == before  # no hidden scratch folder left
    state = json.loads((run_dir / "resume" / "state.json").read_text())
    assert state["num_timesteps"] == 250  # the previous checkpoint is intact


def test_episode_files_round_trip(tmp_path, make_trajectory):
    episodes = [make_trajectory(n, terminated=bool(n % 2), seed=n) for n in (3, 1, 4)]
    path = tmp_path / "episodes.npz"
    save_episodes(path, episodes, [0, 3, 4])
    assert load_episodes(path) == (episodes, [0, 3, 4])
    save_episodes(path, [], [])
    assert load_episodes(path) == ([], [])
    assert os.listdir(tmp_path) == ["episodes.npz"]  # written atomically: no temp file beside it


def test_expert_config_overrides_and_checks():
    base = EXPERT_CONFIGS["Pendulum-v1"]
    short = expert_config("Pendulum-v1", steps=np.int64(500))
    assert (short.steps, short.eval_every, short.checkpoint_every) == (500, 500, 500)
    assert (
        type(short.steps) is int and short.expected_return is None and short.hyperparams == base.hyperparams
    )
    td3 = expert_config("Pendulum-v1", algo="TD3")
    assert td3.algo == "td3" and dict(td3.hyperparams) == {} and td3.steps == base.steps
    assert expert_config("NoSuchEnv-v0").algo == "sac"  # a generic budget for unknown envs
    with pytest.raises(
        ValueError, match=r"expert_config: algo must be one of \['sac', 'td3', 'ppo'\]; got 'dqn'"
    ):
        expert_config("Pendulum-v1", algo="dqn")
    with pytest.raises(ValueError, match="expert_config: steps must be a positive int; got 0"):
        expert_config("Pendulum-v1", steps=0)


def test_train_expert_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="train_expert: algo must be one of"):
        train_expert("Pendulum-v1", algo="dqn", home=tmp_path)
    with pytest.raises(
        ValueError, match=r"train_expert: medium_fraction must be a finite number in \[0, 1\]"
    ):
        train_expert("Pendulum-v1", medium_fraction=-0.1, home=tmp_path)
    with pytest.raises(ValueError, match=r"train_expert: n_ref_episodes must be an int; got 2.0 \(float\)"):
        train_expert("Pendulum-v1", n_ref_episodes=2.0, home=tmp_path)
    with pytest.raises(ValueError, match="train_expert: 'Pendulumm-v1' is not a registered Gymnasium env id"):
        train_expert("Pendulumm-v1", home=tmp_path)
    assert os.listdir(tmp_path) == []

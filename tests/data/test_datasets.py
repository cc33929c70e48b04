"""Local D4RL-style datasets: tiny builds (a tiny SAC expert, a few episodes) of every kind."""

from __future__ import annotations

import json
import os

import minari
import numpy as np
import pytest
from minari.dataset._storages import hdf5_storage
from stable_baselines3.common.callbacks import BaseCallback

from sb3_ot.cli import main as cli
from sb3_ot.data import (
    KINDS,
    Trajectory,
    build_dataset,
    dataset_id,
    dataset_info,
    list_datasets,
    load_trajectories,
    read_build_info,
    rollout,
    top_episodes,
    train_expert,
)
from sb3_ot.data.envs import make_env
from sb3_ot.data.scripted import MazeWaypointController, epsilon_policy

TINY = {"steps": 300, "expert_steps": 300, "n_ref_episodes": 3, "progress": False}


@pytest.fixture(scope="module")
def pendulum(tmp_path_factory):
    """Every kind of a tiny Pendulum build: datasets root, cache home, and the datasets by kind."""
    root, home = tmp_path_factory.mktemp("minari"), tmp_path_factory.mktemp("home")
    built = {kind: build_dataset("Pendulum-v1", kind, data_path=root, home=home, **TINY) for kind in KINDS}
    return root, home, built


def test_every_kind_is_a_local_minari_dataset_with_reference_scores(pendulum, monkeypatch):
    root, home, built = pendulum
    run = train_expert("Pendulum-v1", steps=300, n_ref_episodes=3, home=home, progress=False)  # cached
    assert list_datasets(root) == sorted(dataset_id("Pendulum-v1", k) for k in KINDS)
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    for kind in KINDS:
        ds = minari.load_dataset(dataset_id("Pendulum-v1", kind))  # local: no network involved
        assert ds.storage.metadata["ref_min_score"] == pytest.approx(run.random_return)
        assert ds.storage.metadata["ref_max_score"] == pytest.approx(run.expert_return)
        score = minari.get_normalized_score(ds, np.array([run.random_return, run.expert_return]))
        np.testing.assert_allclose(score, [0.0, 1.0])
        assert ds.recover_environment().spec.id == "Pendulum-v1"


def test_shapes_sizes_and_episode_boundaries(pendulum):
    root, home, built = pendulum
    run = train_expert("Pendulum-v1", steps=300, n_ref_episodes=3, home=home, progress=False)
    for kind in ("random", "medium", "expert"):
        trajs = load_trajectories(built[kind])
        assert sum(len(t) for t in trajs) == 300  # exactly `steps`, the last episode cut to fit
        assert [len(t) for t in trajs] == [200, 100]
        assert all(t.obs.shape == (len(t) + 1, 3) and t.acts.shape == (len(t), 1) for t in trajs)
        assert not any(t.terminated for t in trajs)  # Pendulum only times out
        ep = next(built[kind].iterate_episodes([0]))
        assert not ep.terminations.any() and ep.truncations[-1] and not ep.truncations[:-1].any()
    replay = load_trajectories(built["medium-replay"])
    assert sum(len(t) for t in replay) == run.medium_step > 0  # the run's data up to the medium policy
    assert replay == run.replay()
    mixed = load_trajectories(built["medium-expert"])
    assert mixed == load_trajectories(built["medium"]) + load_trajectories(built["expert"])
    info = dataset_info(dataset_id("Pendulum-v1", "expert"), root)
    assert (info["episodes"], info["steps"], info["terminated"], info["truncated"]) == (2, 300, 0, 2)
    returns = [float(t.rews.sum()) for t in load_trajectories(built["expert"])]
    assert info["return_mean"] == pytest.approx(np.mean(returns))
    assert info["normalized_score"] == pytest.approx(
        100 * (np.mean(returns) - run.random_return) / (run.expert_return - run.random_return)
    )


def test_terminations_are_kept_apart_from_time_outs(tmp_path):
    (ds,) = [
        build_dataset(
            "CartPole-v1",
            "random",
            data_path=tmp_path / "m",
            home=tmp_path / "h",
            algo="ppo",
            steps=150,
            expert_steps=256,
            n_ref_episodes=2,
            progress=False,
        )
    ]
    trajs = load_trajectories(ds)
    assert all(t.terminated for t in trajs[:-1])  # random CartPole falls
    assert not trajs[-1].terminated  # the last one was cut at `steps`: a time-out
    assert trajs[0].acts.dtype.kind == "i" and trajs[0].acts.shape == (len(trajs[0]),)


def test_second_call_reuses_the_dataset_and_other_settings_need_overwrite(pendulum):
    root, home, built = pendulum
    first = read_build_info(built["expert"])
    again = build_dataset("Pendulum-v1", "expert", data_path=root, home=home, **TINY)
    assert read_build_info(again) == first  # not rebuilt: same build record, same build time
    with pytest.raises(ValueError, match="exists .* with build settings .*overwrite=True"):
        build_dataset("Pendulum-v1", "expert", data_path=root, home=home, **{**TINY, "steps": 250})


def test_same_seed_same_dataset(pendulum, tmp_path):
    root, home, built = pendulum
    again = {
        kind: build_dataset("Pendulum-v1", kind, data_path=tmp_path / "m", home=tmp_path / "h", **TINY)
        for kind in ("medium", "medium-replay")
    }
    for kind, ds in again.items():  # a second training run from scratch and fresh rollouts
        assert load_trajectories(ds) == load_trajectories(built[kind])
    other = build_dataset(
        "Pendulum-v1", "random", data_path=tmp_path / "m", home=tmp_path / "h", seed=1, **TINY
    )
    assert load_trajectories(other) != load_trajectories(built["random"])


def test_interrupted_build_leaves_no_dataset(pendulum, tmp_path, monkeypatch):
    _, home, _ = pendulum
    real = hdf5_storage._add_episode_to_group

    def crash_on_second(*args, **kwargs):
        crash_on_second.calls += 1
        if crash_on_second.calls == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    crash_on_second.calls = 0
    monkeypatch.setattr(hdf5_storage, "_add_episode_to_group", crash_on_second)
    root = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt):
        build_dataset("Pendulum-v1", "random", data_path=root, home=home, **TINY)
    assert crash_on_second.calls == 2 and list_datasets(root) == []
    assert [p for p in root.rglob("*") if p.is_file()] == []  # not even a hidden temp file
    monkeypatch.setattr(hdf5_storage, "_add_episode_to_group", real)
    assert (
        dataset_info(build_dataset("Pendulum-v1", "random", data_path=root, home=home, **TINY))["steps"]
        == 300
    )


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


def test_pointmaze_datasets_have_dict_observations_and_success_infos(tmp_path):
    kw = {
        "steps": 700,
        "n_ref_episodes": 4,
        "data_path": tmp_path / "m",
        "home": tmp_path / "h",
        "progress": False,
    }
    built = {kind: build_dataset("PointMaze_UMaze-v3", kind, **kw) for kind in ("random", "medium", "expert")}
    info = {kind: dataset_info(ds) for kind, ds in built.items()}
    assert info["random"]["ref_max_score"] > info["random"]["ref_min_score"]
    assert info["random"]["return_mean"] < info["expert"]["return_mean"]
    traj = load_trajectories(built["expert"])[0]
    assert set(traj.obs) == {"observation", "achieved_goal", "desired_goal"}
    assert traj.observations().shape == (301, 4) and traj.infos["success"].any()
    build = read_build_info(built["medium"])
    assert 0.0 < build["expert"]["medium_epsilon"] < 1.0


def test_top_episodes_and_bad_arguments(tmp_path, make_trajectory):
    trajs = [make_trajectory(5, seed=s) for s in range(4)]
    best = top_episodes(trajs, 2)
    assert [float(t.rews.sum()) for t in best] == sorted((float(t.rews.sum()) for t in trajs), reverse=True)[
        :2
    ]
    assert top_episodes(trajs + [make_trajectory(2, seed=9)], 4, min_steps=5) == top_episodes(trajs, 4)
    with pytest.raises(ValueError, match="k: asked for 5 episodes but only 4"):
        top_episodes(trajs, 5)
    with pytest.raises(ValueError, match=r"trajectories\[0\].rews is None"):
        top_episodes([make_trajectory(3, with_rews=False)], 1)
    with pytest.raises(ValueError, match="kind: expected one of"):
        build_dataset("Pendulum-v1", "mediocre", data_path=tmp_path)
    with pytest.raises(ValueError, match="steps: expected a positive int; got 0"):
        build_dataset("Pendulum-v1", "random", steps=0, data_path=tmp_path)
    with pytest.raises(ValueError, match="'Pendulumm-v1' is not a registered Gymnasium env id.*Pendulum-v1"):
        build_dataset("Pendulumm-v1", "random", data_path=tmp_path)
    with pytest.raises(ValueError, match="algo: expected one of"):
        train_expert("Pendulum-v1", algo="dqn", home=tmp_path)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        dataset_info("sb3_ot/Pendulum-v1/expert-v9", tmp_path)
    assert isinstance(trajs[0], Trajectory)


def test_cli_build_list_info(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "m"))
    args = [
        "dataset",
        "build",
        "Pendulum-v1",
        "--kind",
        "random",
        "--steps",
        "200",
        "--expert-steps",
        "200",
        "--quiet",
    ]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "sb3_ot/Pendulum-v1/random-v0" in out and "ref_max_score" in out
    assert cli(["dataset", "list"]) == 0
    assert "sb3_ot/Pendulum-v1/random-v0" in capsys.readouterr().out
    assert cli(["dataset", "info", "sb3_ot/Pendulum-v1/random-v0", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["steps"] == 200 and info["build"]["settings"]["steps"] == 200
    assert os.path.isdir(tmp_path / "h" / "experts" / "Pendulum-v1")

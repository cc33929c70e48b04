"""Local D4RL-style datasets: tiny builds (a tiny SAC expert, a few episodes) of every kind."""

from __future__ import annotations

import json
import os
import shutil

import minari
import numpy as np
import pytest
from minari.dataset._storages import hdf5_storage

from sb3_ot.cli import main as cli
from sb3_ot.data import dataset_info, load_trajectories, normalized_score, read_build_info
from sb3_ot.datasets import (
    KINDS,
    build_dataset,
    build_suite,
    dataset_id,
    list_datasets,
    train_expert,
)

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
    assert info["normalized_score"] == normalized_score(returns, run.random_return, run.expert_return)


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


def test_fetch_datasets_keep_the_achieved_goal_and_is_success(tmp_path):
    kw = {
        "steps": 300,
        "n_ref_episodes": 2,
        "data_path": tmp_path / "m",
        "home": tmp_path / "h",
        "progress": False,
    }
    built = {kind: build_dataset("FetchPush-v4", kind, **kw) for kind in ("random", "expert", "noisy")}
    traj = load_trajectories(built["expert"])[0]
    assert set(traj.obs) == {"observation", "achieved_goal", "desired_goal"}
    assert traj.obs["achieved_goal"].shape == (51, 3) and traj.acts.shape == (50, 4)
    assert traj.infos["is_success"].shape == (50,)
    build = read_build_info(built["random"])
    assert build["expert"]["controller"] == "FetchController"
    assert build["expert_return"] > build["random_return"]  # the scripted pusher beats random actions
    assert build["settings"]["table_resets_xy"] == {"x": [1.1, 1.5], "y": [0.45, 1.05]}
    assert build["settings"]["end_when_block_falls_m"] == 0.03
    noisy = read_build_info(built["noisy"])["policy"]
    assert noisy.startswith("scripted controller, Gaussian action noise 0.2"), noisy
    expert_acts = np.concatenate([t.acts for t in load_trajectories(built["expert"])])
    noisy_acts = np.concatenate([t.acts for t in load_trajectories(built["noisy"])])
    np.testing.assert_array_equal(np.abs(expert_acts[:, 3]), 1.0)  # the pusher's fingers: always -1
    assert 0.8 < np.abs(noisy_acts[:, 3]).mean() < 0.99  # perturbed, mostly still the expert's
    ys = np.concatenate([t.obs["achieved_goal"][:, 1] for t in load_trajectories(built["random"])])
    assert ys.min() < 0.6 or ys.max() > 0.9  # over the table, not the env's 15 cm around the gripper


def test_bad_arguments_name_build_dataset_and_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"build_dataset: kind must be one of \['random'"):
        build_dataset("Pendulum-v1", "mediocre", data_path=tmp_path)
    with pytest.raises(ValueError, match="build_dataset: steps must be a positive int; got 0"):
        build_dataset("Pendulum-v1", "random", steps=0, data_path=tmp_path)
    with pytest.raises(ValueError, match=r"build_dataset: steps must be an int; got 1.5"):
        build_dataset("Pendulum-v1", "random", steps=1.5, data_path=tmp_path)
    with pytest.raises(ValueError, match="build_dataset: expert_steps must be a positive int; got -3"):
        build_dataset("Pendulum-v1", "random", expert_steps=-3, data_path=tmp_path)
    with pytest.raises(
        ValueError, match=r"build_dataset: medium_fraction must be a finite number in \[0, 1\]"
    ):
        build_dataset("Pendulum-v1", "random", medium_fraction=1.5, data_path=tmp_path)
    with pytest.raises(ValueError, match="build_dataset: seed must be an int >= 0; got -1"):
        build_dataset("Pendulum-v1", "random", seed=-1, data_path=tmp_path)
    with pytest.raises(
        ValueError, match="build_dataset: 'Pendulumm-v1' is not a registered Gymnasium env id.*Pendulum-v1"
    ):
        build_dataset("Pendulumm-v1", "random", data_path=tmp_path)
    with pytest.raises(ValueError, match="build_dataset: algo must be one of"):
        build_dataset("Pendulum-v1", "random", algo="dqn", data_path=tmp_path)
    with pytest.raises(FileNotFoundError, match="dataset_info: .*never downloads"):
        dataset_info("sb3_ot/Pendulum-v1/expert-v9", tmp_path)
    with pytest.raises(ValueError, match="dataset_id: kind must be one of"):
        dataset_id("Pendulum-v1", "best")
    with pytest.raises(ValueError, match="build_suite: name must be one of"):
        build_suite("huge")
    assert os.listdir(tmp_path) == []  # nothing was written


def test_numpy_integers_are_accepted_and_give_the_same_dataset(pendulum, tmp_path):
    root, home, built = pendulum
    np_args = {**TINY, "steps": np.int64(300), "expert_steps": np.int32(300), "n_ref_episodes": np.int64(3)}
    again = build_dataset("Pendulum-v1", "expert", data_path=root, home=home, seed=np.int64(0), **np_args)
    assert read_build_info(again) == read_build_info(built["expert"])  # same settings: reused


def test_corrupt_existing_dataset_is_reported_not_reused(pendulum, tmp_path):
    root, home, built = pendulum
    copy = tmp_path / "m"
    shutil.copytree(root, copy)
    data = copy / dataset_id("Pendulum-v1", "random") / "data" / "main_data.hdf5"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(
        ValueError, match=r"build_dataset: dataset 'sb3_ot/Pendulum-v1/random-v0'.*main_data.hdf5.* truncated"
    ):
        build_dataset("Pendulum-v1", "random", data_path=copy, home=home, **TINY)
    ds = build_dataset("Pendulum-v1", "random", data_path=copy, home=home, overwrite=True, **TINY)
    assert load_trajectories(ds) == load_trajectories(built["random"])


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

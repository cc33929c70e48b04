"""save_minari / load_trajectories against real local Minari datasets (never ~/.minari)."""

from __future__ import annotations

import os

import gymnasium as gym
import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer
from minari.dataset._storages import hdf5_storage

from sb3_ot.data import Trajectory, dataset_info, load_trajectories, read_build_info, save_minari


@pytest.fixture
def minari_root(tmp_path, monkeypatch):
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture
def mixed(make_trajectory):
    """Varying lengths, terminal and timed-out episodes, infos."""
    return [
        make_trajectory(5, terminated=True, infos=True, seed=0),
        make_trajectory(1, terminated=False, infos=True, seed=1),
        make_trajectory(8, terminated=False, infos=True, seed=2),
        make_trajectory(3, terminated=True, infos=True, seed=3),
    ]


def _visible_entries(root):
    return sorted(p for p in os.listdir(root) if not p.startswith("."))


def test_round_trip_box_obs(minari_root, mixed):
    ds = save_minari(mixed, "test/box-v0", author="me")
    assert ds.total_episodes == 4 and ds.total_steps == 17
    assert load_trajectories("test/box-v0") == mixed
    assert load_trajectories(ds) == mixed
    # plain Minari opens it, offline, and sees the T+1 / T layout and the end flags
    opened = minari.load_dataset("test/box-v0")
    episodes = list(opened.iterate_episodes())
    assert [len(ep.observations) for ep in episodes] == [6, 2, 9, 4]
    assert [bool(ep.terminations[-1]) for ep in episodes] == [True, False, False, True]
    assert [bool(ep.truncations[-1]) for ep in episodes] == [False, True, True, False]
    assert not any(ep.terminations[:-1].any() or ep.truncations[:-1].any() for ep in episodes)
    assert list(minari.list_local_datasets()) == ["test/box-v0"]
    assert opened.spec.observation_space == gym.spaces.Box(-np.inf, np.inf, (3,), np.float64)


def test_round_trip_dict_obs_discrete_actions(minari_root, make_trajectory):
    trajs = [
        make_trajectory(n, dict_obs=True, discrete=True, terminated=bool(i % 2), infos=True, seed=i)
        for i, n in enumerate([4, 7, 2])
    ]
    ds = save_minari(trajs, "dict-v1")
    assert isinstance(ds.action_space, gym.spaces.Discrete)
    assert isinstance(ds.observation_space, gym.spaces.Dict)
    back = load_trajectories("dict-v1")
    assert back == trajs
    assert back[1].acts.dtype == np.int64 and back[0].obs["desired_goal"].dtype == np.float32


def test_missing_rewards_are_stored_as_zeros(minari_root, make_trajectory):
    save_minari([make_trajectory(3, with_rews=False)], "norew-v0")
    (back,) = load_trajectories("norew-v0")
    np.testing.assert_array_equal(back.rews, np.zeros(3))


def test_episode_indices_and_paths(minari_root, mixed):
    save_minari(mixed, "ns/sub/paths-v0")
    assert load_trajectories("ns/sub/paths-v0", episode_indices=[3, 0]) == [mixed[3], mixed[0]]
    assert load_trajectories(minari_root / "ns/sub/paths-v0") == mixed
    assert load_trajectories(str(minari_root / "ns/sub/paths-v0" / "data")) == mixed
    with pytest.raises(ValueError, match=r"episode_indices \[4\] are not episodes"):
        load_trajectories("ns/sub/paths-v0", episode_indices=[0, 4])


def test_data_path_argument(tmp_path, monkeypatch, mixed):
    monkeypatch.delenv("MINARI_DATASETS_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a leak would land here, not in ~/.minari
    root = tmp_path / "elsewhere"
    save_minari(mixed, "dp-v0", data_path=root)
    assert "MINARI_DATASETS_PATH" not in os.environ
    assert (root / "dp-v0" / "data" / "metadata.json").is_file()
    assert load_trajectories("dp-v0", data_path=root) == mixed
    assert not (tmp_path / "home").exists()


def test_env_spec_is_recorded(minari_root):
    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    observations, actions, rewards = [obs], [], []
    for _ in range(5):
        action = env.action_space.sample()
        obs, reward, *_ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(reward)
    traj = Trajectory(np.array(observations), np.array(actions), np.array(rewards), terminated=False)
    ds = save_minari([traj], "pendulum/random-v0", env="Pendulum-v1", algorithm_name="random")
    assert ds.env_spec.id == "Pendulum-v1"
    assert ds.observation_space == env.observation_space
    assert ds.recover_environment().observation_space == env.observation_space
    assert load_trajectories("pendulum/random-v0") == [traj]
    with pytest.raises(ValueError, match=r"trajectories\[0\]\.obs has per-step shape \(4,\).*obs.*_space"):
        bad = Trajectory(np.zeros((3, 4), np.float32), np.zeros((2, 1), np.float32), terminated=False)
        save_minari([bad], "pendulum/bad-v0", env="Pendulum-v1")


def test_existing_dataset_needs_overwrite(minari_root, make_trajectory):
    first = [make_trajectory(3, seed=0)]
    second = [make_trajectory(4, seed=1), make_trajectory(2, seed=2)]
    save_minari(first, "ow-v0")
    with pytest.raises(ValueError, match=r"dataset_id 'ow-v0' already exists.*overwrite=True"):
        save_minari(second, "ow-v0")
    assert load_trajectories("ow-v0") == first
    save_minari(second, "ow-v0", overwrite=True)
    assert load_trajectories("ow-v0") == second
    assert os.listdir(minari_root) == ["ow-v0"]  # no temp debris, hidden or not


def test_refuses_to_overwrite_a_namespace(minari_root, make_trajectory):
    save_minari([make_trajectory(2)], "keep-v0/inner-v0")
    with pytest.raises(ValueError, match="is not a Minari dataset"):
        save_minari([make_trajectory(2)], "keep-v0", overwrite=True)
    assert load_trajectories("keep-v0/inner-v0") == [make_trajectory(2)]


def _fail_on_second_episode(monkeypatch):
    """Fault injection: Minari's HDF5 writer dies while writing the second episode."""
    real = hdf5_storage._add_episode_to_group
    calls = []

    def add_episode_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(hdf5_storage, "_add_episode_to_group", add_episode_then_crash)
    return calls


def test_interrupted_save_leaves_nothing(minari_root, mixed, monkeypatch):
    calls = _fail_on_second_episode(monkeypatch)
    with pytest.raises(OSError, match="disk on fire"):
        save_minari(mixed, "ns/crash-v0")
    assert len(calls) == 2  # the first episode was written before the crash
    assert not (minari_root / "ns" / "crash-v0").exists()
    assert _visible_entries(minari_root) == []
    assert os.listdir(minari_root) == []  # the hidden temp folder is gone too
    assert minari.list_local_datasets() == {}
    with pytest.raises(FileNotFoundError):
        load_trajectories("ns/crash-v0")


def test_interrupted_overwrite_keeps_the_old_dataset(minari_root, mixed, make_trajectory, monkeypatch):
    save_minari(mixed, "keep-v0")
    _fail_on_second_episode(monkeypatch)
    with pytest.raises(OSError, match="disk on fire"):
        save_minari([make_trajectory(2, seed=9), make_trajectory(2, seed=8)], "keep-v0", overwrite=True)
    assert os.listdir(minari_root) == ["keep-v0"]
    assert load_trajectories("keep-v0") == mixed


@pytest.mark.filterwarnings("ignore:.*is set to None:UserWarning", "ignore:env_spec is None:UserWarning")
def test_minari_datacollector_style_infos(minari_root):
    """Episodes written the DataCollector way (reset info first, nested infos) load as [T] infos."""
    n = 3
    buffer = EpisodeBuffer(
        observations=np.arange(8, dtype=np.float32).reshape(4, 2),
        actions=np.zeros((n, 1), np.float32),
        rewards=np.ones(n),
        terminations=np.array([False, False, True]),
        truncations=np.zeros(n, bool),
        infos={"step": np.arange(n + 1), "stats": {"dist": np.linspace(0, 1, n)}, "odd": np.zeros(2)},
    )
    minari.create_dataset_from_buffers(
        "raw-v0",
        [buffer],
        observation_space=gym.spaces.Box(-np.inf, np.inf, (2,), np.float32),
        action_space=gym.spaces.Box(-1, 1, (1,), np.float32),
    )
    with pytest.warns(UserWarning, match=r"info 'odd' has shape \(2,\).*dropped"):
        (traj,) = load_trajectories("raw-v0")
    assert traj.terminated and len(traj) == 3
    np.testing.assert_array_equal(traj.infos["step"], [1, 2, 3])
    np.testing.assert_array_equal(traj.infos["stats/dist"], np.linspace(0, 1, n))
    assert "odd" not in traj.infos


def test_unknown_dataset_is_not_downloaded(minari_root, mixed):
    save_minari(mixed, "here-v0")
    with pytest.raises(FileNotFoundError, match=r"'D4RL/door/human-v2' is not a local Minari .*here-v0"):
        load_trajectories("D4RL/door/human-v2")
    with pytest.raises(FileNotFoundError, match="not a Minari dataset folder"):
        load_trajectories(minari_root.parent)


@pytest.mark.parametrize("bad_id", ["no-version", "has space-v0", "../up-v0"])
def test_malformed_dataset_id(minari_root, mixed, bad_id):
    with pytest.raises(ValueError, match=r"dataset_id must look like"):
        save_minari(mixed, bad_id)


def test_bad_trajectory_lists(minari_root, make_trajectory):
    good = make_trajectory(3)
    with pytest.raises(ValueError, match=r"trajectories must hold at least one"):
        save_minari([], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[1\]\.acts is None.*observation-only"):
        save_minari([good, make_trajectory(3, with_acts=False)], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[2\]\.obs has keys/per-step shapes \{None: \(4,\)\}"):
        save_minari([good, good, make_trajectory(3, obs_dim=4)], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[1\]\.obs has keys/per-step shapes \{'observation'"):
        save_minari([good, make_trajectory(3, dict_obs=True)], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[1\]\.acts has per-step shape \(3,\)"):
        save_minari([good, make_trajectory(3, act_dim=3)], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[0\] must be a Trajectory; got dict"):
        save_minari([{"obs": 1}], "x-v0")
    with pytest.raises(ValueError, match=r"trajectories\[0\]\.acts has per-step shape \(2,\) but the act"):
        save_minari([good], "x-v0", action_space=gym.spaces.Discrete(3))
    assert os.listdir(minari_root) == []


def test_failed_swap_puts_the_old_dataset_back(minari_root, mixed, make_trajectory, monkeypatch):
    """Fault injection: the rename that moves the new dataset into place fails."""
    save_minari(mixed, "ns/swap-v0")
    real_rename, calls = os.rename, []

    def rename(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # 1: old dataset aside, 2: new dataset into place
            raise OSError("rename failed")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        save_minari([make_trajectory(2)], "ns/swap-v0", overwrite=True)
    monkeypatch.setattr(os, "rename", real_rename)
    assert len(calls) == 3  # the third put the old one back
    assert load_trajectories("ns/swap-v0") == mixed
    assert _visible_entries(minari_root) == ["ns"] and os.listdir(minari_root) == ["ns"]


# ----------------------------------------------------------------------------- damaged or missing input
@pytest.fixture
def saved(minari_root, mixed):
    save_minari(mixed, "ns/keep-v0", build_info={"seed": 0})
    return minari_root / "ns" / "keep-v0" / "data"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda f: f.write_bytes(f.read_bytes()[: f.stat().st_size // 2]), id="truncated"),
        pytest.param(lambda f: f.write_text("not an hdf5 file"), id="text"),
        pytest.param(lambda f: f.write_bytes(b""), id="empty"),
    ],
)
@pytest.mark.parametrize("reader", [load_trajectories, dataset_info, read_build_info])
def test_corrupt_hdf5_file_is_named(saved, damage, reader):
    data = saved / "main_data.hdf5"
    damage(data)
    pattern = rf"{reader.__name__}: dataset 'ns/keep-v0': its data file '{data}' is truncated or corrupt"
    with pytest.raises(ValueError, match=pattern):
        reader("ns/keep-v0")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        reader(saved.parent)  # the folder itself: the same check


def test_missing_hdf5_file_is_named(saved):
    (saved / "main_data.hdf5").unlink()
    with pytest.raises(
        FileNotFoundError, match=r"load_trajectories: dataset 'ns/keep-v0': its data file .* missing"
    ):
        load_trajectories("ns/keep-v0")


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("{bad json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"dataset_id": "ns/keep-v0"}', "corrupt or incomplete"),
    ],
)
def test_corrupt_metadata_file_is_named(saved, text, what):
    metadata = saved / "metadata.json"
    metadata.write_text(text)
    with pytest.raises(
        ValueError,
        match=rf"load_trajectories: dataset 'ns/keep-v0': its metadata file '{metadata}' is .*{what}",
    ):
        load_trajectories("ns/keep-v0")
    with pytest.raises(ValueError, match=rf"dataset_info: dataset .*: its metadata file '{metadata}'"):
        dataset_info(saved.parent)


def test_corrupt_build_info_is_named(saved):
    (saved.parent / "sb3_ot_build.json").write_text("{")
    with pytest.raises(
        ValueError,
        match=r"read_build_info: dataset 'ns/keep-v0': its build info .*sb3_ot_build.json' is corrupt \(not valid JSON",
    ):
        read_build_info("ns/keep-v0")
    assert len(load_trajectories("ns/keep-v0")) == 4  # the data itself is fine


@pytest.mark.parametrize(
    "missing", ["./no/such/folder", "/tmp/nothing-here-sb3ot", "~/no-such-sb3ot-folder", "../x"]
)
def test_missing_folder_says_not_found(minari_root, missing):
    with pytest.raises(FileNotFoundError, match=r"load_trajectories: dataset folder '.*' not found"):
        load_trajectories(missing)
    with pytest.raises(FileNotFoundError, match=r"dataset_info: dataset folder '.*' not found"):
        dataset_info(missing)


def test_missing_pathlike_and_malformed_ids(minari_root, tmp_path):
    with pytest.raises(FileNotFoundError, match="load_trajectories: dataset folder .* not found"):
        load_trajectories(tmp_path / "absent")
    with pytest.raises(
        ValueError, match=r"load_trajectories: dataset_id must look like .*got 'no-version', and no folder"
    ):
        load_trajectories("no-version")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_trajectories("well/formed-v0")  # a real id that is not local: not a path error


def test_failed_write_leaves_no_scratch_folder(minari_root, mixed, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("minari failed")

    monkeypatch.setattr(minari, "create_dataset_from_buffers", fail)
    with pytest.raises(RuntimeError, match="minari failed"):
        save_minari(mixed, "ns/fail-v0")
    assert os.listdir(minari_root) == []  # not even a hidden .sb3ot-tmp-* folder


def test_failed_build_info_write_leaves_nothing(minari_root, mixed):
    with pytest.raises(TypeError):  # the JSON writer fails after Minari wrote the dataset
        save_minari(mixed, "ns/info-v0", build_info={"env": object()})
    assert os.listdir(minari_root) == []


def test_late_validation_failure_leaves_nothing(minari_root, make_trajectory):
    with pytest.raises(
        ValueError,
        match=r"save_minari: trajectories\[0\]\.acts has per-step shape \(2,\) but the action_space",
    ):
        save_minari([make_trajectory(3)], "ns/late-v0", env="Pendulum-v1", overwrite=True)
    assert os.listdir(minari_root) == []


def test_episode_indices_accept_numpy_integers_only(minari_root, mixed):
    save_minari(mixed, "idx-v0")
    assert load_trajectories("idx-v0", episode_indices=np.arange(3)) == mixed[:3]
    assert load_trajectories("idx-v0", episode_indices=(np.int32(3),)) == [mixed[3]]
    with pytest.raises(ValueError, match=r"load_trajectories: episode_indices\[1\] must be an int; got 1.5"):
        load_trajectories("idx-v0", episode_indices=[0, 1.5])
    with pytest.raises(ValueError, match="load_trajectories: episode_indices must be an iterable of ints"):
        load_trajectories("idx-v0", episode_indices=2)

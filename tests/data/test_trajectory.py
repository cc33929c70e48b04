"""Trajectory: validation, immutability, accessors, equality."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from sb3_ot.data import Trajectory


def test_box_trajectory_accessors(make_trajectory):
    traj = make_trajectory(5, terminated=True)
    assert len(traj) == traj.n_steps == 5
    assert not traj.is_dict_obs
    assert traj.observations().shape == (6, 3)
    assert traj.observations() is traj.obs
    assert traj.terminated is True
    assert dict(traj.infos) == {}


def test_dict_trajectory_accessors(make_trajectory):
    traj = make_trajectory(4, dict_obs=True)
    assert traj.is_dict_obs and len(traj) == 4
    assert traj.observations() is traj.obs["observation"]
    assert traj.observations("desired_goal").shape == (5, 2)
    with pytest.raises(ValueError, match=r"key 'goal' is not in the dict.*\['achieved_goal', 'desired_goal'"):
        traj.observations("goal")


def test_observations_key_on_array_obs_raises(make_trajectory):
    with pytest.raises(ValueError, match="not a dict; pass key=None"):
        make_trajectory(3).observations("observation")


def test_observation_only_and_discrete():
    traj = Trajectory(np.zeros((4, 2)), terminated=False)
    assert traj.acts is None and traj.rews is None
    discrete = Trajectory(np.zeros((4, 2)), np.array([0, 1, 2]), np.zeros(3), terminated=True)
    assert discrete.acts.shape == (3,)


def test_terminated_is_required_keyword():
    with pytest.raises(TypeError):
        Trajectory(np.zeros((3, 2)))  # type: ignore[call-arg]


def test_arrays_are_read_only_copies(make_trajectory):
    obs = np.zeros((4, 2))
    traj = Trajectory(obs, np.zeros((3, 1)), np.zeros(3), terminated=False, infos={"a": np.zeros(3)})
    obs[0, 0] = 7.0  # the caller's array stays theirs
    assert traj.obs[0, 0] == 0.0
    for array in (traj.obs, traj.acts, traj.rews, traj.infos["a"]):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            array[0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        traj.terminated = True  # type: ignore[misc]
    with pytest.raises(TypeError, match="read-only"):
        traj.infos["b"] = np.zeros(3)  # type: ignore[index]


def test_dict_obs_mapping_is_read_only(make_trajectory):
    traj = make_trajectory(3, dict_obs=True)
    with pytest.raises(TypeError, match="read-only"):
        traj.obs["observation"] = np.zeros((4, 3))  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        traj.obs.pop("observation")  # type: ignore[union-attr]


@pytest.mark.parametrize("dict_obs", [False, True])
def test_pickle_round_trip_stays_valid_and_read_only(make_trajectory, dict_obs):
    traj = make_trajectory(4, dict_obs=dict_obs, infos=True, terminated=True)
    back = pickle.loads(pickle.dumps(traj))
    assert back == traj
    assert not back.observations().flags.writeable


def test_equality(make_trajectory):
    a = make_trajectory(5, dict_obs=True, infos=True, seed=1)
    assert a == make_trajectory(5, dict_obs=True, infos=True, seed=1)
    assert a != make_trajectory(5, dict_obs=True, infos=True, seed=2)
    assert a != make_trajectory(5, dict_obs=True, infos=False, seed=1)
    assert a != make_trajectory(5, dict_obs=True, infos=True, seed=1, terminated=True)
    assert a != make_trajectory(5, dict_obs=True, infos=True, seed=1, with_rews=False)
    assert a != make_trajectory(5, dict_obs=False, infos=True, seed=1)
    box = make_trajectory(5)
    assert box == dataclasses.replace(box)
    assert box != dataclasses.replace(box, obs=box.obs.astype(np.float32))  # dtype counts
    assert box != dataclasses.replace(box, acts=None)
    assert box != "not a trajectory"


_OK = np.zeros((10, 3))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"obs": [[0.0, 1.0], [1.0, 2.0]]}, r"obs must be a numpy array; got list"),
        ({"obs": np.zeros(10)}, r"obs must have shape \[T\+1, D, \.\.\.\] \(ndim >= 2.*got shape \(10,\)"),
        ({"obs": np.zeros((1, 3))}, r"obs must hold at least 2 observations .*got shape \(1, 3\)"),
        ({"obs": np.zeros((0, 3))}, r"obs must hold at least 2 observations"),
        ({"obs": np.array([["a", "b"]] * 3)}, r"obs must have a numeric or bool dtype"),
        (
            {"obs": _OK, "acts": np.zeros((10, 3))},
            r"acts must have shape \[T, \.\.\.\] with T = len\(obs\) - 1 = 9; got shape \(10, 3\)",
        ),
        ({"obs": _OK, "acts": np.float32(1.0)}, r"acts must be a numpy array"),
        ({"obs": _OK, "rews": np.zeros((9, 1))}, r"rews must have shape \[T\] with T = len\(obs\) - 1 = 9"),
        ({"obs": _OK, "rews": np.zeros(8)}, r"rews must have shape \[T\].*got shape \(8,\)"),
        ({"obs": np.where(np.eye(10, 3) > 0, np.nan, 0.0)}, r"obs must be finite; got nan at index \(0, 0\)"),
        (
            {"obs": _OK, "acts": np.array([[0.0], [0.0], [np.inf]] + [[0.0]] * 6)},
            r"acts must be finite; got inf at index \(2, 0\)",
        ),
        (
            {"obs": _OK, "rews": np.array([0.0] * 4 + [np.nan] * 5)},
            r"rews must be finite; got nan at index 4$",
        ),
        ({"obs": {}}, r"obs must be an array or a non-empty dict"),
        (
            {"obs": {"observation": np.zeros((10, 3)), "desired_goal": np.zeros((9, 2))}},
            r"obs values must all have the same length T \+ 1",
        ),
        ({"obs": {"observation": np.zeros(10)}}, r"obs\['observation'\] must have shape \[T\+1, D"),
        ({"obs": {"observation": [0, 1]}}, r"obs\['observation'\] must be a numpy array"),
        ({"obs": {1: np.zeros((3, 1))}}, r"obs keys must be str"),
        ({"obs": _OK, "infos": {"x": np.zeros(10)}}, r"infos\['x'\] must have shape \[T, \.\.\.\] with T"),
        ({"obs": _OK, "infos": [np.zeros(9)]}, r"infos must be a mapping"),
        ({"obs": _OK, "terminated": 1}, r"terminated must be a bool; got int"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    kwargs = {"terminated": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        Trajectory(**kwargs)

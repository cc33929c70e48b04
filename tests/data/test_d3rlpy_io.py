"""to_d3rlpy against d3rlpy's own episode building and transition picking."""

from __future__ import annotations

import numpy as np
import pytest

from sb3_ot.data import Trajectory, to_d3rlpy

d3rlpy = pytest.importorskip("d3rlpy")
from d3rlpy.constants import ActionSpace  # noqa: E402


def _transitions(dataset):
    """Every transition d3rlpy will train on, per episode, through its own TransitionPicker."""
    return [
        [dataset.transition_picker(episode, i) for i in range(episode.transition_count)]
        for episode in dataset.episodes
    ]


@pytest.fixture
def mixed(make_trajectory):
    return [
        make_trajectory(5, terminated=True, seed=0),
        make_trajectory(1, terminated=False, seed=1),
        make_trajectory(7, terminated=False, seed=2),
        make_trajectory(1, terminated=True, seed=3),
        make_trajectory(3, terminated=False, seed=4),
    ]


def test_transitions_match_trajectories(mixed):
    dataset = to_d3rlpy(mixed)
    assert dataset.transition_count == sum(len(t) for t in mixed) == 17
    assert len(dataset.episodes) == len(mixed)
    assert dataset.dataset_info.action_space == ActionSpace.CONTINUOUS
    for traj, episode, transitions in zip(mixed, dataset.episodes, _transitions(dataset), strict=True):
        assert episode.terminated == traj.terminated
        assert len(transitions) == len(traj)
        obs = traj.obs.astype(np.float32)  # float observations are stored as float32
        for t, tr in enumerate(transitions):
            np.testing.assert_array_equal(tr.observation, obs[t])
            np.testing.assert_array_equal(tr.action, traj.acts[t])
            np.testing.assert_allclose(tr.reward, [traj.rews[t]], rtol=1e-6)
            last = t == len(traj) - 1
            assert tr.terminal == float(traj.terminated and last)
            if traj.terminated and last:  # d3rlpy zeroes it; nothing bootstraps past a terminal
                np.testing.assert_array_equal(tr.next_observation, np.zeros_like(obs[t]))
            else:  # includes obs[T] of a timed-out episode
                np.testing.assert_array_equal(tr.next_observation, obs[t + 1])


def test_sampled_batches_are_consistent(mixed):
    dataset = to_d3rlpy(mixed)
    batch = dataset.sample_transition_batch(64)
    assert batch.observations.shape == batch.next_observations.shape == (64, 3)
    assert batch.actions.shape == (64, 2)
    # a sampled pair is either a terminal (zero next obs) or a real step of some trajectory
    assert batch.observations.dtype == np.float32
    steps = set()
    for traj in mixed:
        obs32 = traj.obs.astype(np.float32)
        steps |= {(o.tobytes(), n.tobytes()) for o, n in zip(obs32[:-1], obs32[1:], strict=True)}
    for obs, next_obs, terminal in zip(
        batch.observations, batch.next_observations, batch.terminals, strict=True
    ):
        if terminal[0] == 1.0:
            assert not next_obs.any()
        else:
            assert (obs.tobytes(), next_obs.tobytes()) in steps


def test_dict_obs_uses_obs_key(make_trajectory):
    trajs = [
        make_trajectory(4, dict_obs=True, seed=0),
        make_trajectory(2, dict_obs=True, terminated=True, seed=1),
    ]
    default = to_d3rlpy(trajs)
    goal = to_d3rlpy(trajs, obs_key="desired_goal")
    assert default.dataset_info.observation_signature.shape == [(3,)]
    assert goal.dataset_info.observation_signature.shape == [(2,)]
    first = _transitions(goal)[0]
    np.testing.assert_array_equal(first[-1].next_observation, trajs[0].obs["desired_goal"][4])  # float32
    with pytest.raises(ValueError, match=r"trajectories\[0\]: obs_key='goal'.*available keys"):
        to_d3rlpy(trajs, obs_key="goal")


def test_box_obs_rejects_obs_key(make_trajectory):
    with pytest.raises(ValueError, match=r"trajectories\[0\]: obs_key='observation'.*not a dict"):
        to_d3rlpy([make_trajectory(3)], obs_key="observation")


def test_discrete_actions(make_trajectory):
    trajs = [make_trajectory(6, discrete=True, seed=s, terminated=bool(s % 2)) for s in range(3)]
    dataset = to_d3rlpy(trajs)
    assert dataset.dataset_info.action_space == ActionSpace.DISCRETE
    assert dataset.dataset_info.action_size == max(int(t.acts.max()) for t in trajs) + 1
    assert dataset.transition_count == 18


def test_whole_number_float_actions_stay_continuous():
    """d3rlpy's own guess calls these discrete; the action dtype decides here."""
    traj = Trajectory(np.zeros((4, 2)), np.zeros((3, 1)), np.zeros(3), terminated=True)
    assert to_d3rlpy([traj]).dataset_info.action_space == ActionSpace.CONTINUOUS


def test_reward_fn_replaces_rewards(make_trajectory):
    trajs = [make_trajectory(3, with_rews=False), make_trajectory(2, with_rews=False, terminated=True)]
    dataset = to_d3rlpy(trajs, reward_fn=lambda t: -np.arange(len(t), dtype=np.float64))
    rewards = [float(tr.reward[0]) for ep in _transitions(dataset) for tr in ep]
    assert rewards == [0.0, -1.0, -2.0, 0.0, -1.0]


def test_iql_trains_on_it(mixed):
    from d3rlpy.logging import NoopAdapterFactory

    iql = d3rlpy.algos.IQLConfig(batch_size=8).create(device="cpu:0")
    iql.fit(
        to_d3rlpy(mixed),
        n_steps=2,
        n_steps_per_epoch=2,
        show_progress=False,
        logger_adapter=NoopAdapterFactory(),
    )
    assert iql.predict(mixed[0].obs[:2].astype(np.float32)).shape == (2, 2)


def test_bad_input(make_trajectory):
    good = make_trajectory(3)
    with pytest.raises(ValueError, match=r"trajectories must hold at least one"):
        to_d3rlpy([])
    with pytest.raises(ValueError, match=r"trajectories\[1\]\.rews is None; relabel rewards first"):
        to_d3rlpy([good, make_trajectory(3, with_rews=False)])
    with pytest.raises(ValueError, match=r"trajectories\[1\]\.acts is None"):
        to_d3rlpy([good, make_trajectory(3, with_acts=False)])
    with pytest.raises(ValueError, match=r"trajectories\[2\] has per-step obs shape \(4,\)"):
        to_d3rlpy([good, good, make_trajectory(3, obs_dim=4)])
    with pytest.raises(ValueError, match=r"reward_fn\(trajectories\[0\]\) must return 3 finite.*\(2,\)"):
        to_d3rlpy([good], reward_fn=lambda t: np.zeros(2))
    with pytest.raises(ValueError, match=r"reward_fn\(trajectories\[0\]\).*non-finite"):
        to_d3rlpy([good], reward_fn=lambda t: np.full(3, np.nan))
    with pytest.raises(ValueError, match=r"trajectories\[0\] must be a Trajectory"):
        to_d3rlpy([good.obs])

"""top_episodes: the best episodes of a list, e.g. expert demonstrations."""

from __future__ import annotations

import numpy as np
import pytest

from sb3_ot.data import normalized_score, top_episodes


def test_top_episodes_ranks_by_return(make_trajectory):
    trajs = [make_trajectory(5, seed=s) for s in range(4)]
    best = top_episodes(trajs, 2)
    returns = sorted((float(t.rews.sum()) for t in trajs), reverse=True)
    assert [float(t.rews.sum()) for t in best] == returns[:2]
    assert top_episodes(trajs + [make_trajectory(2, seed=9)], 4, min_steps=5) == top_episodes(trajs, 4)
    assert top_episodes(trajs, np.int64(1)) == top_episodes(trajs, 1)  # numpy integers are ints
    assert top_episodes(iter(trajs), 2, min_steps=np.int32(5)) == best


def test_top_episodes_rejects_bad_arguments(make_trajectory):
    trajs = [make_trajectory(5, seed=s) for s in range(4)]
    with pytest.raises(ValueError, match="top_episodes: k asks for 5 episodes but only 4 qualify"):
        top_episodes(trajs, 5)
    with pytest.raises(ValueError, match="top_episodes: k must be a positive int; got 0"):
        top_episodes(trajs, 0)
    with pytest.raises(ValueError, match=r"top_episodes: k must be an int; got 2.0"):
        top_episodes(trajs, 2.0)
    with pytest.raises(ValueError, match="top_episodes: min_steps must be an int >= 0; got -1"):
        top_episodes(trajs, 1, min_steps=-1)
    with pytest.raises(ValueError, match=r"top_episodes: trajectories\[0\].rews is None"):
        top_episodes([make_trajectory(3, with_rews=False)], 1)
    with pytest.raises(ValueError, match=r"top_episodes: trajectories\[1\] must be a Trajectory; got dict"):
        top_episodes([trajs[0], {"obs": 1}], 1)


def test_normalized_score_is_reexported():
    assert normalized_score([0.0, 10.0], 0.0, 10.0) == 50.0

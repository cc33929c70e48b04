"""Encoders: ICVF learns temporal structure; every encoder saves and loads back identically."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from sb3_ot.data import Trajectory
from sb3_ot.data.envs import make_env
from sb3_ot.datasets.scripted import MazeWaypointController
from sb3_ot.encoders import ICVFEncoder, IdentityEncoder, NormalizedStateEncoder, load_encoder


@pytest.fixture(scope="module")
def umaze_paths():
    """Expert paths around PointMaze's U: from the bottom-left cell to the top-left one, 150 steps.

    The start and the goal are close in space but far in steps (a wall lies between them), so raw
    distance is not monotone in the number of steps between two states of a path.
    """
    env = make_env("PointMaze_UMaze-v3")
    controller = MazeWaypointController(env)
    options = {"reset_cell": np.array([3, 1]), "goal_cell": np.array([1, 1])}
    trajs = []
    for k in range(30):
        obs, _ = env.reset(seed=k, options=options)
        seq = [obs]
        for t in range(150):
            obs, *_ = env.step(controller(obs, t, None))
            seq.append(obs)
        trajs.append(
            Trajectory({key: np.array([o[key] for o in seq]) for key in seq[0]}, None, terminated=False)
        )
    env.close()
    return trajs


def _monotonicity(features: np.ndarray) -> float:
    """Spearman correlation between the step gap j - i and the feature distance |f_i - f_j|."""
    i, j = np.triu_indices(len(features), 1)
    return float(spearmanr(j - i, np.linalg.norm(features[i] - features[j], axis=1))[0])


def test_icvf_intent_distance_grows_with_steps_more_monotonically_than_raw_state_distance(umaze_paths):
    enc = ICVFEncoder(hidden_dims=(64, 64), batch_size=128, seed=0).fit(
        umaze_paths, n_updates=1500, progress=False
    )
    path = umaze_paths[0]
    reached = np.linalg.norm(path.observations()[:, :2] - path.obs["desired_goal"][0], axis=1) < 0.45
    states = path.observations()[: int(np.argmax(reached)) + 1]  # up to the goal
    assert 50 < len(states) < 150
    raw, icvf = _monotonicity(states), _monotonicity(enc.encode(states))
    assert icvf > raw + 0.03, (icvf, raw)
    assert enc.encode(states).shape == (len(states), 64) and enc.dim == 64
    assert enc.history[-1]["update"] == 1500


def test_encoders_save_and_load_identically(umaze_paths, tmp_path):
    icvf = ICVFEncoder(hidden_dims=(16, 16), seed=1).fit(umaze_paths[:3], n_updates=20, progress=False)
    norm = NormalizedStateEncoder().fit(umaze_paths)
    ident = IdentityEncoder().fit(umaze_paths)
    x = umaze_paths[5].observations()
    for enc in (icvf, norm, ident):
        path = enc.save(tmp_path / f"{enc.kind}.pt")
        again = load_encoder(path)
        assert type(again) is type(enc)
        np.testing.assert_array_equal(again.encode(x), enc.encode(x))
    again = ICVFEncoder.load(tmp_path / "icvf.pt")
    assert again.n_updates == 20 and again.history == icvf.history
    with pytest.raises(ValueError, match="holds a 'normalized' encoder, not a ICVFEncoder"):
        ICVFEncoder.load(tmp_path / "normalized.pt")
    # training continues from the saved state exactly as from the live one
    icvf.fit(umaze_paths[:3], n_updates=5, progress=False)
    again.fit(umaze_paths[:3], n_updates=5, progress=False)
    np.testing.assert_array_equal(again.encode(x), icvf.encode(x))


def test_encoders_accept_dicts_and_trajectories_and_reject_bad_observations(umaze_paths):
    norm = NormalizedStateEncoder().fit(umaze_paths)
    traj = umaze_paths[0]
    np.testing.assert_array_equal(norm.encode(traj), norm.encode(traj.observations()))
    np.testing.assert_array_equal(norm.encode(dict(traj.obs)), norm.encode(traj.observations()))
    assert np.allclose(
        norm.encode(np.concatenate([t.observations() for t in umaze_paths])).mean(0), 0, atol=1e-4
    )
    with pytest.raises(
        ValueError,
        match=r"NormalizedStateEncoder.encode: obs must have shape \[\.\.\., 4\] \(the fitted obs_dim\); got \(10, 3\)",
    ):
        norm.encode(np.zeros((10, 3)))
    with pytest.raises(ValueError, match="NormalizedStateEncoder.encode: obs must be finite"):
        norm.encode(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="call fit"):
        NormalizedStateEncoder().encode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="NormalizedStateEncoder.fit: trajectories must hold at least one"):
        NormalizedStateEncoder().fit([])
    with pytest.raises(ValueError, match="key 'position' is not in the dict observations"):
        NormalizedStateEncoder(obs_key="position").fit(umaze_paths)
    with pytest.raises(ValueError, match=r"ICVFEncoder: unknown settings \['width'\]; see ICVFConfig"):
        ICVFEncoder(width=3)
    with pytest.raises(ValueError, match="ICVFConfig: p_random \\+ p_traj \\+ p_current must be 1"):
        ICVFEncoder(p_random=0.5)
    with pytest.raises(ValueError, match=r"ICVFConfig: expectile must be a finite number in \(0, 1\]"):
        ICVFEncoder(expectile=1.5)
    with pytest.raises(ValueError, match="ICVFEncoder.fit: n_updates must be a positive int; got 0"):
        ICVFEncoder().fit(umaze_paths, n_updates=0)


def test_encoders_keep_tensors_on_their_device_and_numpy_at_the_edge(umaze_paths):
    """numpy in, numpy out; a tensor in, a tensor out on the encoding device, equal to the numpy path."""
    x = umaze_paths[2].observations()
    icvf = ICVFEncoder(hidden_dims=(16, 16), seed=0, device="cpu").fit(
        umaze_paths[:2], n_updates=np.int64(3), progress=False
    )
    for enc in (
        icvf,
        NormalizedStateEncoder().fit(umaze_paths),
        IdentityEncoder(device="cpu").fit(umaze_paths),
    ):
        out = enc.encode(torch.tensor(x))
        assert (
            isinstance(out, torch.Tensor) and out.device == torch.device("cpu") and out.dtype == torch.float32
        )
        np.testing.assert_array_equal(out.numpy(), enc.encode(x))
    assert isinstance(icvf.encode(x), np.ndarray)
    if torch.cuda.is_available():  # the same on a GPU: the statistics follow the input's device
        norm = NormalizedStateEncoder().fit(umaze_paths)
        got = norm.encode(torch.from_numpy(x).cuda())
        assert got.is_cuda
        np.testing.assert_allclose(got.cpu().numpy(), norm.encode(x), rtol=1e-6)


def test_a_checkpoint_that_carries_code_is_refused_not_run(umaze_paths, tmp_path):
    """A pickle with a side effect (here: creating a file) passed as an encoder checkpoint is refused
    with a clear error, and the side effect never happens; text and truncated files say what they are."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))

    evil = tmp_path / "evil.pt"
    torch.save({"kind": "normalized", "state": Payload()}, evil)
    with pytest.raises(
        ValueError, match="holds pickled Python objects, which could run code when loaded; refused"
    ):
        load_encoder(evil)
    assert not marker.exists()
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(
        ValueError, match=r"NormalizedStateEncoder.load: '.*notes.pt' is not a readable encoder file"
    ):
        NormalizedStateEncoder.load(text)
    good = NormalizedStateEncoder().fit(umaze_paths).save(tmp_path / "norm.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="is not a readable encoder file .truncated, corrupt"):
        load_encoder(cut)
    with pytest.raises(FileNotFoundError, match="Encoder.load: encoder file '.*missing.pt' not found"):
        load_encoder(tmp_path / "missing.pt")

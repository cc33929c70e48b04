"""The world model on pixel observations: CNN encoder/decoder, frames in and out, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sb3_ot.data import Trajectory, make_pixel_env
from sb3_ot.world_models import ImaginationStarts, ImaginationVecEnv, LatentObservationWrapper, WorldModel

C = 3  # frames per observation, as make_pixel_env's default


def _square_episode(rng: np.random.Generator, steps: int = 12) -> Trajectory:
    """A bright square that moves along x by 4 px per unit of action, as ``C`` stacked 64 x 64 frames."""
    x, acts, frames = rng.uniform(0, 58), rng.uniform(-1, 1, (steps, 1)).astype(np.float32), []
    for t in range(steps + 1):
        frame = np.zeros((64, 64), np.uint8)
        frame[28:34, int(x) : int(x) + 6] = 255
        frames.append(frame)
        if t < steps:
            x = float(np.clip(x + 4 * acts[t, 0], 0, 58))
    f = np.stack(frames)
    obs = np.stack([f[np.maximum(np.arange(steps + 1) - k, 0)] for k in range(C - 1, -1, -1)], 1)
    return Trajectory(obs, acts, terminated=False)


@pytest.fixture(scope="module")
def episodes() -> list[Trajectory]:
    rng = np.random.default_rng(0)
    return [_square_episode(rng) for _ in range(6)]


@pytest.fixture(scope="module")
def pixel_model(episodes) -> WorldModel:
    wm = WorldModel(latent_dim=8, hidden=(16, 16), n_heads=2, batch_size=8, rollout=3, cnn_depth=4, seed=0)
    return wm.fit(episodes, n_updates=30, progress=False)


def test_pixel_model_takes_frames_and_returns_frames(pixel_model, episodes):
    wm = pixel_model
    assert wm.pixels and wm.obs_shape == (C, 64, 64) and wm.obs_dim is None
    obs = episodes[0].obs
    z = wm.encode(obs)
    assert z.shape == (len(obs), 8) and z.dtype == np.float32
    frames = wm.decode(z)
    assert frames.shape == (len(obs), C, 64, 64) and 0.0 <= frames.min() and frames.max() <= 255.0
    assert wm.next(z[:2], np.zeros((2, 1), np.float32)).shape == (2, 8)
    errors = wm.prediction_error(episodes[:2], ks=(1, 3))
    assert errors[1]["pairs"] == 2 * 12 and np.isfinite(errors[3]["model"])
    assert all(h["recon"] > 0 for h in wm.history)
    assert wm.latent_trajectories(episodes[:1])[0].obs.shape == (13, 8)


def test_pixel_model_saves_and_loads_identically(pixel_model, episodes, tmp_path):
    path = pixel_model.save(tmp_path / "wm.pt")
    again = WorldModel.load(path)
    assert again.obs_shape == (C, 64, 64) and again.config.cnn_depth == 4
    obs = episodes[1].obs
    np.testing.assert_array_equal(again.encode(obs), pixel_model.encode(obs))
    np.testing.assert_array_equal(
        again.decode(again.encode(obs)), pixel_model.decode(pixel_model.encode(obs))
    )


def test_bad_frames_fail_clearly(pixel_model, episodes):
    wm, obs = pixel_model, episodes[0].obs
    with pytest.raises(ValueError, match=r"channels last: transpose to \[..., C, H, W\]"):
        wm.encode(np.moveaxis(obs, 1, -1))
    with pytest.raises(ValueError, match=r"resize frames to 64 x 64"):
        wm.encode(obs[:, :, :32, :32])
    with pytest.raises(ValueError, match=r"must be uint8 frames \(0..255\); got torch.float32"):
        wm.encode(obs.astype(np.float32))
    with pytest.raises(ValueError, match=r"a state vector\? this model was built for pixels"):
        wm.encode(np.zeros((4, 3), np.float32))
    states = [Trajectory(np.zeros((5, 3), np.float32), np.zeros((4, 1), np.float32), terminated=False)]
    with pytest.raises(
        ValueError, match=r"WorldModel.fit: .*a state vector\? this model was built for pixels"
    ):
        wm.fit(states, n_updates=1, progress=False)
    two_channels = [Trajectory(obs[:, :2], episodes[0].acts, terminated=False)]
    with pytest.raises(
        ValueError, match=r"WorldModel.fit: .*must be images \[..., 3, 64, 64\]; got \(2, 64, 64\)"
    ):
        wm.fit(two_channels, n_updates=1, progress=False)


def test_a_state_model_refuses_frames(episodes):
    states = [Trajectory(np.zeros((5, 3), np.float32), np.zeros((4, 1), np.float32), terminated=False)]
    wm = WorldModel(latent_dim=4, hidden=(8,), n_heads=2, batch_size=4).fit(
        states, n_updates=2, progress=False
    )
    with pytest.raises(
        ValueError, match=r"observations are images \(3, 64, 64\); this world model was fitted"
    ):
        wm.fit(episodes, n_updates=1, progress=False)
    with pytest.raises(ValueError, match=r"WorldModel.encode: obs must have shape \[..., 3\]"):
        wm.encode(episodes[0].obs)


def test_pixel_policies_act_on_latents_in_imagination_and_in_the_real_env(pixel_model, episodes):
    wm = pixel_model
    starts = ImaginationStarts.from_trajectories(wm, episodes)
    venv = ImaginationVecEnv(wm, starts, lambda z, a, e, t: torch.zeros(len(z)), 4, 5, "latent")
    assert venv.reset().shape == (4, 8)
    with pytest.raises(ValueError, match="observation='decoded' is for state models"):
        ImaginationVecEnv(wm, starts, lambda z, a, e, t: torch.zeros(len(z)), 4, 5, "decoded")
    env = LatentObservationWrapper(make_pixel_env("Pendulum-v1", frame_stack=C), wm)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (8,) and obs.dtype == np.float32
    assert env.step(np.zeros(1, np.float32))[0].shape == (8,)
    env.close()
    with pytest.raises(
        ValueError, match=r"not the frames \(3, 64, 64\) the pixel model takes .*frame_stack=3"
    ):
        LatentObservationWrapper(make_pixel_env("Pendulum-v1", frame_stack=1), wm)
    with pytest.raises(ValueError, match=r"not the frames \(3, 64, 64\)"):
        LatentObservationWrapper(make_pixel_env("Pendulum-v1").env, wm)  # the state env underneath

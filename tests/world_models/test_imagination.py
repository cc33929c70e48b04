"""Imagination envs: ImaginationStarts, ImaginationVecEnv (SB3), ImaginationEnv (check_env, registered id),
LatentObservationWrapper, Discrete models, bad inputs."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.vec_env import VecEnv

from sb3_ot.data import Trajectory, rollout
from sb3_ot.world_models import (
    ImaginationEnv,
    ImaginationStarts,
    ImaginationVecEnv,
    LatentObservationWrapper,
    WorldModel,
)

TINY = {"latent_dim": 8, "hidden": (32, 32), "n_heads": 3, "batch_size": 64, "lr": 1e-3}


@pytest.fixture(scope="module")
def pendulum():
    return rollout("Pendulum-v1", n_episodes=6, max_steps=40, seed=0)


@pytest.fixture(scope="module")
def model(pendulum):
    return WorldModel(seed=0, **TINY).fit(pendulum, n_updates=100, progress=False)


@pytest.fixture(scope="module")
def starts(model, pendulum):
    return ImaginationStarts.from_trajectories(model, pendulum)


@pytest.fixture(scope="module")
def cartpole_model():
    data = rollout("CartPole-v1", n_episodes=8, seed=0)
    return WorldModel(seed=0, **TINY).fit(data, n_updates=50, progress=False), data


def neg_sq(z, actions, episode, time):
    """A deterministic reward: ``-|z_next|^2``."""
    return -(z**2).sum(-1)


class Recorder:
    """A reward that records its inputs and returns ``time`` (so the rewards show the time alignment)."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __call__(self, z, actions, episode, time):
        self.calls.append((z.clone(), actions.clone(), episode.clone(), time.clone()))
        return time.float()


def _run(venv: VecEnv, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = [venv.reset()]
    for _ in range(steps):
        obs, rew, done, infos = venv.step(rng.uniform(-1, 1, (venv.num_envs, 1)).astype(np.float32))
        out.append((obs, rew, done, infos))
    return out


# --------------------------------------------------------------------------- starts
def test_starts_encode_each_episode_and_sample_states_with_a_step_left(model, pendulum, starts):
    assert len(starts) == 6 and starts.latent_dim == 8 and starts.obs_dim == 3
    assert [tuple(z.shape) for z in starts.latents] == [(len(t.obs), 8) for t in pendulum]
    assert torch.allclose(starts.latents[2], model.encode(torch.tensor(pendulum[2].obs).float()))
    episode, time = starts.sample(500, torch.Generator().manual_seed(0))
    assert episode.dtype == time.dtype == torch.long and episode.shape == (500,)
    assert (time < starts.lengths(episode)).all() and (time >= 0).all() and len(set(episode.tolist())) == 6
    e2, t2 = starts.sample(500, torch.Generator().manual_seed(0))
    assert torch.equal(episode, e2) and torch.equal(time, t2)
    assert torch.equal(starts.expert_latents(episode[:3], time[:3])[1], starts.latents[episode[1]][time[1]])


def test_starts_bad_inputs(model):
    f = ImaginationStarts.from_trajectories
    with pytest.raises(ValueError, match="trajectories have obs_dim 4; the world model has obs_dim 3"):
        f(model, [Trajectory(np.zeros((5, 4)), np.zeros((4, 1)), terminated=False)])
    with pytest.raises(ValueError, match="at least one episode; got none"):
        f(model, [])
    with pytest.raises(ValueError, match=r"ImaginationStarts: latents\[0\] must be finite"):
        ImaginationStarts((torch.full((3, 8), float("nan")),))
    with pytest.raises(ValueError, match="no episode has a step"):
        ImaginationStarts((torch.zeros(1, 8),))


# --------------------------------------------------------------------------- vec env
def test_vec_env_shapes_dtypes_truncation_reset_and_episode_info(model, starts):
    venv = ImaginationVecEnv(model, starts, neg_sq, n_envs=4, horizon=3, termination_threshold=1.0)
    assert isinstance(venv, VecEnv) and venv.observation_space.shape == (8,)
    assert venv.action_space == gym.spaces.Box(-1, 1, (1,), np.float32)
    first, *steps = _run(venv, 6)
    assert first.shape == (4, 8) and first.dtype == np.float32
    returns = np.zeros(4)
    for obs, rew, done, infos in steps:
        returns += rew
        for i in np.flatnonzero(done):  # Monitor's convention: the episode's return and length
            assert np.isclose(infos[i]["episode"]["r"], returns[i], atol=1e-4)
            returns[i] = 0.0
        assert obs.shape == (4, 8) and obs.dtype == np.float32 and rew.dtype == np.float32
        assert rew.shape == done.shape == (4,) and done.dtype == bool
        assert all({"episode_index", "start_time"} <= set(i) for i in infos)
        for i in np.flatnonzero(done):
            assert infos[i]["TimeLimit.truncated"] is True
            assert infos[i]["terminal_observation"].shape == (8,)
            assert not np.array_equal(infos[i]["terminal_observation"], obs[i])  # obs is the new start's
            assert infos[i]["episode"]["l"] <= 3
    # every start here has >= 3 steps left unless near an episode end; steps 3 and 6 end most episodes
    assert steps[2][2].sum() >= 3 and steps[5][2].sum() >= 3
    dones = np.stack([s[2] for s in steps])
    assert (dones.sum(0) >= 2).all()


def test_rewards_are_the_callables_output_on_the_stepped_rows_and_time_is_aligned(model, starts):
    rec = Recorder()
    venv = ImaginationVecEnv(model, starts, rec, n_envs=5, horizon=4, termination_threshold=1.0, head="mean")
    obs0 = venv.reset()
    ep0, t0 = venv.reset_infos[0]["episode_index"], venv.reset_infos[0]["start_time"]
    assert np.allclose(obs0[0], starts.latents[ep0][t0].numpy())
    actions = np.full((5, 1), 0.5, np.float32)
    obs, rew, done, infos = venv.step(actions)
    z, a, episode, time = rec.calls[-1]
    assert np.array_equal(rew, time.numpy().astype(np.float32)) and int(time[0]) == t0 + 1
    assert int(episode[0]) == ep0 == infos[0]["episode_index"]
    expected = model.next(torch.from_numpy(obs0), torch.from_numpy(actions))
    assert torch.allclose(z, expected) and np.allclose(a.numpy(), actions)
    venv2 = ImaginationVecEnv(model, starts, neg_sq, n_envs=5, horizon=4, head="mean")
    o2 = venv2.reset()
    _, r2, _, infos2 = venv2.step(actions)
    z2 = model.next(torch.from_numpy(o2), torch.from_numpy(actions))
    assert np.allclose(r2, (-(z2**2).sum(-1)).numpy(), atol=1e-5)


def test_uncertainty_penalty_subtracts_lambda_times_the_heads_disagreement(model, starts):
    plain = ImaginationVecEnv(model, starts, neg_sq, 4, horizon=5, seed=3)
    penal = ImaginationVecEnv(model, starts, neg_sq, 4, horizon=5, seed=3, uncertainty_penalty=2.0)
    plain.reset(), penal.reset()
    for k in range(3):
        a = np.full((4, 1), 0.5 * k - 0.5, np.float32)
        u = model.uncertainty(penal._z, torch.as_tensor(a)).numpy()
        _, r0, _, _ = plain.step(a)
        _, r1, _, _ = penal.step(a)
        np.testing.assert_allclose(r1, r0 - 2.0 * u, rtol=1e-5, atol=1e-6)
        assert (u > 0).all()
    with pytest.raises(ValueError, match="uncertainty_penalty must be a finite number"):
        ImaginationVecEnv(model, starts, neg_sq, 1, uncertainty_penalty=-1.0)


def test_episodes_never_run_past_their_expert_episode(model):
    """A 2-step expert episode caps imagined episodes at 2 - start_time steps, whatever the horizon."""
    short = ImaginationStarts((model.encode(torch.randn(3, 3)),), obs_dim=3)
    rec = Recorder()
    venv = ImaginationVecEnv(model, short, rec, n_envs=8, horizon=15, termination_threshold=1.0)
    _run(venv, 6)
    assert all(int(t.max()) <= 2 for *_, t in rec.calls)


def test_actions_are_clipped_into_the_box(model, starts):
    rec = Recorder()
    venv = ImaginationVecEnv(
        model, starts, rec, n_envs=2, action_space=gym.spaces.Box(-2, 2, (1,), np.float32)
    )
    venv.reset()
    venv.step(np.array([[5.0], [-0.5]], np.float32))
    assert rec.calls[-1][1].tolist() == [[2.0], [-0.5]]


def test_seeded_runs_repeat_and_different_seeds_differ(model, starts):
    def run(seed):
        venv = ImaginationVecEnv(model, starts, neg_sq, n_envs=3, horizon=5, seed=seed)
        return [s if isinstance(s, np.ndarray) else s[0] for s in _run(venv, 12)]

    a, b, c = run(1), run(1), run(2)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    venv = ImaginationVecEnv(model, starts, neg_sq, n_envs=3, horizon=5, seed=7)
    venv.seed(1)  # applies at the next reset, as SB3's VecEnv.seed
    assert np.array_equal(venv.reset(), a[0])


def test_predicted_termination_ends_episodes(model, starts):
    always = ImaginationVecEnv(model, starts, neg_sq, n_envs=4, termination_threshold=0.0)
    _, (obs, _, done, infos) = _run(always, 1)
    assert done.all() and all(i["TimeLimit.truncated"] is False and i["episode"]["l"] == 1 for i in infos)
    never = ImaginationVecEnv(model, starts, neg_sq, n_envs=4, horizon=3, termination_threshold=1.0)
    ended = [i for *_, infos in _run(never, 9)[1:] for i in infos if "episode" in i]
    assert len(ended) >= 8 and all(i["TimeLimit.truncated"] and i["episode"]["l"] <= 3 for i in ended)


def test_ppo_learns_in_imagination(model, starts):
    venv = ImaginationVecEnv(model, starts, neg_sq, n_envs=4, horizon=8)
    agent = PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    agent.learn(256)
    assert agent.num_timesteps >= 256 and len(agent.ep_info_buffer) > 0
    assert {"r", "l"} <= set(agent.ep_info_buffer[0])


# --------------------------------------------------------------------------- single env, registered id
def test_check_env_passes_on_the_single_env(model, starts):
    env = ImaginationEnv(model, starts, neg_sq, horizon=5, seed=0)
    check_env(env)
    env.reset(seed=3)
    lengths, steps = [], 0
    for _ in range(12):
        obs, rew, term, trunc, info = env.step(env.action_space.sample())
        steps += 1
        assert obs.shape == (8,) and isinstance(rew, float) and "terminal_observation" not in info
        if term or trunc:
            lengths.append(steps)
            steps = 0
            env.reset()
    assert lengths and max(lengths) <= 5
    assert np.array_equal(env.reset(seed=4)[0], env.reset(seed=4)[0])


def test_registered_id_builds_the_env_from_a_saved_model_and_minari_starts(
    model, pendulum, tmp_path, monkeypatch
):
    from sb3_ot.data import save_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    save_minari(pendulum[:3], "imagination/expert-v0", env="Pendulum-v1")
    path = model.save(tmp_path / "wm.pt")
    for starts_arg in ("imagination/expert-v0", pendulum[:3]):
        env = gym.make(
            "sb3_ot/Imagination-v0", model_path=str(path), starts=starts_arg, reward="ditto", seed=0
        )
        obs, info = env.reset(seed=0)
        assert obs.shape == (8,) and {"episode_index", "start_time"} <= set(info)
        _, rew, *_ = env.step(np.zeros(1, np.float32))
        assert -1.0 <= rew <= 1.0  # <z, zE> / max(|z|, |zE|)^2 is a bounded similarity
    inner = env.unwrapped
    assert isinstance(inner, ImaginationEnv)
    z = torch.randn(4, 8)
    ep, t = torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.long)
    ze = inner.venv.starts.expert_latents(ep, t)
    want = (z * ze).sum(-1) / torch.maximum(z.norm(dim=-1), ze.norm(dim=-1)) ** 2
    assert torch.allclose(inner.venv.reward(z, None, ep, t), want)
    assert torch.allclose(inner.venv.reward(ze, None, ep, t), torch.ones(4))  # the expert itself scores 1
    with pytest.raises(ValueError, match="reward must be one of"):
        gym.make("sb3_ot/Imagination-v0", model_path=str(path), starts=pendulum[:3], reward="gail")
    env = gym.make("sb3_ot/Imagination-v0", model_path=str(path), starts=pendulum[:3], env_id="Pendulum-v1")
    assert env.action_space == gym.make("Pendulum-v1").action_space  # the real env's bounds, [-2, 2]


def test_registered_id_refuses_another_envs_checkpoint_or_data_and_damaged_files(
    model, pendulum, cartpole_model, tmp_path
):
    path = model.save(tmp_path / "wm.pt")  # a Pendulum model
    make = lambda **kw: gym.make("sb3_ot/Imagination-v0", **kw)  # noqa: E731
    with pytest.raises(ValueError, match="trajectories have obs_dim 4; the world model has obs_dim 3"):
        make(model_path=str(path), starts=cartpole_model[1][:2])  # CartPole starts
    with pytest.raises(
        ValueError, match=r"action_space must be a Box of 1 values .*got Box\(-1.0, 1.0, \(6,\)"
    ):
        make(model_path=str(path), starts=pendulum[:2], env_id="HalfCheetah-v5")
    with pytest.raises(ValueError, match="give env_id or action_space, not both"):
        make(
            model_path=str(path),
            starts=pendulum[:2],
            env_id="Pendulum-v1",
            action_space=gym.spaces.Box(-1, 1, (1,)),
        )
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])  # a copy cut short
    with pytest.raises(ValueError, match="not a readable world-model file"):
        make(model_path=str(tmp_path / "cut.pt"), starts=pendulum[:2])


# --------------------------------------------------------------------------- deployment
def test_decoded_mode_and_latent_wrapper_deploy_to_the_real_env(model, starts):
    dec = ImaginationVecEnv(model, starts, neg_sq, n_envs=3, observation="decoded")
    assert dec.observation_space.shape == (3,) and dec.reset().shape == (3, 3)
    obs, first = dec.reset(), dec.reset_infos[0]
    assert np.allclose(obs[0], model.decode(starts.latents[first["episode_index"]][first["start_time"]]))
    check_env(ImaginationEnv(model, starts, neg_sq, observation="decoded", seed=0))
    venv = ImaginationVecEnv(model, starts, neg_sq, n_envs=2, horizon=4)
    agent = PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(32)
    real = LatentObservationWrapper(gym.make("Pendulum-v1"), model)
    assert real.observation_space == venv.observation_space
    obs, _ = real.reset(seed=0)
    assert obs.dtype == np.float32 and obs.shape == (8,)
    assert np.allclose(obs, model.encode(real.unwrapped._get_obs().astype(np.float32)), atol=1e-6)
    for _ in range(5):
        action, _ = agent.predict(obs, deterministic=True)
        obs, *_ = real.step(action)
    with pytest.raises(ValueError, match="not flat Boxes of 3 values"):
        LatentObservationWrapper(gym.make("CartPole-v1"), model)


# --------------------------------------------------------------------------- discrete models
def test_discrete_model_gives_a_discrete_space_and_out_of_range_actions_fail(cartpole_model):
    m, data = cartpole_model
    s = ImaginationStarts.from_trajectories(m, data)
    venv = ImaginationVecEnv(m, s, neg_sq, n_envs=3, horizon=4)
    assert venv.action_space == gym.spaces.Discrete(2)
    obs, rew, done, _ = venv.step(np.array([0, 1, 1]))
    assert obs.shape == (3, 8) and rew.shape == (3,)
    with pytest.raises(ValueError, match=r"actions\[2\] = 2 \(env 2\) is outside Discrete\(2\)"):
        venv.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="actions must be 3 integers"):
        venv.step(np.array([0.5, 1, 0]))
    check_env(ImaginationEnv(m, s, neg_sq, seed=0))
    PPO("MlpPolicy", venv, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu").learn(16)


# --------------------------------------------------------------------------- bad inputs
def test_bad_inputs_fail_naming_the_argument(model, starts, cartpole_model):
    V = ImaginationVecEnv
    with pytest.raises(ValueError, match="ImaginationVecEnv: horizon must be a positive int; got 0"):
        V(model, starts, neg_sq, 1, horizon=0)
    with pytest.raises(ValueError, match="ImaginationVecEnv: n_envs must be a positive int; got 0"):
        V(model, starts, neg_sq, 0)
    with pytest.raises(ValueError, match=r"observation must be one of \['latent', 'decoded'\]; got 'pixels'"):
        V(model, starts, neg_sq, 1, observation="pixels")
    other = ImaginationStarts((torch.zeros(4, 5),))
    with pytest.raises(ValueError, match="starts have latent size 5; the world model's latent_dim is 8"):
        V(model, other, neg_sq, 1)
    cart_starts = ImaginationStarts.from_trajectories(cartpole_model[0], cartpole_model[1])
    with pytest.raises(ValueError, match="starts come from obs_dim 4; the world model has 3"):
        V(model, cart_starts, neg_sq, 1)
    with pytest.raises(ValueError, match="starts must be ImaginationStarts"):
        V(model, [torch.zeros(4, 8)], neg_sq, 1)
    with pytest.raises(ValueError, match="reward must be callable"):
        V(model, starts, "ditto", 1)
    with pytest.raises(ValueError, match=r"termination_threshold must be a finite number in \[0, 1\]"):
        V(model, starts, neg_sq, 1, termination_threshold=1.5)
    with pytest.raises(ValueError, match="head must be 'mean', 'random' or an int"):
        V(model, starts, neg_sq, 1, head="best")
    with pytest.raises(ValueError, match="action_space must be a Box of 1 values"):
        V(model, starts, neg_sq, 1, action_space=gym.spaces.Discrete(2))
    with pytest.raises(ValueError, match="world_model is not trained yet"):
        V(WorldModel(**TINY), starts, neg_sq, 1)
    venv = V(model, starts, neg_sq, 2)
    with pytest.raises(ValueError, match=r"actions must have shape \(2, 1\); got \(2,\)"):
        venv.step(np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"actions\[1\] \(env 1\) must be finite"):
        venv.step(np.array([[0.0], [np.nan]], np.float32))
    with pytest.raises(ValueError, match=r"reward must return shape \[2\] \(one per env\); got \[2, 8\]"):
        V(model, starts, lambda z, a, e, t: z, 2).step(np.zeros((2, 1), np.float32))


def test_import_stays_light_and_the_id_registers_when_gymnasium_is_loaded():
    code = (
        "import sys, gymnasium, sb3_ot.world_models; "
        "print('sb3_ot/Imagination-v0' in gymnasium.registry, "
        "any(m in sys.modules for m in ('stable_baselines3', 'minari', 'd3rlpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
    code = "import sys, sb3_ot.world_models; print('gymnasium' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]

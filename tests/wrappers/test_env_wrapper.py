"""OTRewardWrapper: episode and step rewards, env rewards kept, Dict/Discrete/vector envs, clear errors."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sb3_ot.data import Trajectory, rollout, save_minari, sinusoidal_policy
from sb3_ot.data.envs import make_env
from sb3_ot.encoders import IdentityEncoder
from sb3_ot.rewards import AILOTRewarder, OTRewarder
from sb3_ot.wrappers import OTRewardWrapper

T = 60
# these tests read info["ot_rewards"] themselves (the warning's own test is in test_sb3_integration.py)
pytestmark = pytest.mark.filterwarnings("ignore::sb3_ot.wrappers.env.UnclaimedRewardWarning")


def _pendulum(max_steps: int = T) -> gym.Env:
    return gym.make("Pendulum-v1", max_episode_steps=max_steps)


@pytest.fixture(scope="module")
def expert_run():
    """A swinging Pendulum gait (the 'expert'), its actions and reset seed."""
    env = _pendulum()
    policy = sinusoidal_policy(env.action_space, seed=0)
    trajs = rollout(env, policy, n_episodes=1, max_steps=T, seed=3)
    env.close()
    return trajs[0]


def _play(env: gym.Env, actions, seed: int):
    env.reset(seed=seed)
    out = []
    for a in actions:
        out.append(env.step(a))
    return out


def test_episode_mode_rewards_at_the_end_match_the_rewarder(expert_run):
    env = OTRewardWrapper(_pendulum(), expert=[expert_run])
    steps = _play(env, expert_run.acts, seed=3)
    assert all(r == 0.0 for _, r, *_ in steps)  # nothing before the episode ends
    *_, truncated, info = steps[-1]
    assert truncated and info["ot_rewards"].shape == (T,)
    again = env.rewarder.rewards([Trajectory(env.episode_observations(), None, terminated=False)])[0]
    np.testing.assert_allclose(info["ot_rewards"], again, rtol=1e-6)
    # the env's own reward is kept, step by step
    plain = _play(_pendulum(), expert_run.acts, seed=3)
    np.testing.assert_allclose([s[-1]["env_reward"] for s in steps], [p[1] for p in plain])


@pytest.mark.parametrize("mode", ["episode", "step"])
def test_the_expert_earns_more_than_a_random_agent(expert_run, mode):
    env = OTRewardWrapper(_pendulum(), expert=[expert_run], mode=mode)
    rng = np.random.default_rng(0)

    def ret(actions):
        steps = _play(env, actions, seed=3)
        return steps[-1][-1]["ot_return"] if mode == "episode" else sum(r for _, r, *_ in steps)

    expert_return = ret(expert_run.acts)
    random_return = ret(rng.uniform(-2, 2, size=(T, 1)).astype(np.float32))
    # the swinging gait stays near the bottom, as random play does, and several of its dims vary less
    # than the default standardisation's floor (0.25): the margin is real but modest
    assert expert_return > 1.1 * random_return


def test_step_mode_is_the_prefix_reward(expert_run):
    env = OTRewardWrapper(_pendulum(), expert=[expert_run], mode="step")
    steps = _play(env, expert_run.acts[:10], seed=3)
    obs = env.episode_observations()
    expected = env.rewarder.prefix_rewards([obs[: t + 2] for t in range(10)])
    np.testing.assert_allclose([r for _, r, *_ in steps], expected, rtol=1e-4)  # Sinkhorn tol 1e-4
    # the prefix reward of a full episode compares it with the whole expert
    full = env.rewarder.prefix_rewards([expert_run.obs])[0]
    assert full == pytest.approx(env.rewarder.rewards([expert_run])[0][-1], rel=1e-5)


def test_dict_observations_discrete_actions_and_a_minari_expert(tmp_path, expert_run, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    cart = rollout("CartPole-v1", n_episodes=2, max_steps=30, seed=0)
    save_minari(cart, "sb3_ot/test/cartpole-v0", env="CartPole-v1")
    env = OTRewardWrapper(gym.make("CartPole-v1"), expert="sb3_ot/test/cartpole-v0", mode="step")
    env.reset(seed=1)
    _, r, *_ = env.step(env.action_space.sample())
    assert np.isfinite(r) and r > 0

    maze = make_env("PointMaze_UMaze-v3", max_episode_steps=20)
    demo = rollout(maze, None, n_episodes=1, max_steps=20, seed=0)
    env = OTRewardWrapper(maze, expert=demo, rewarder=OTRewarder(IdentityEncoder(obs_key="observation")))
    assert env.obs_dim == 4
    steps = _play(env, demo[0].acts, seed=0)
    assert steps[-1][-1]["ot_rewards"].shape == (20,)
    with pytest.raises(ValueError, match="obs_key 'goal' is not in the env's Dict"):
        OTRewardWrapper(maze, expert=demo, obs_key="goal")


def test_vector_envs(expert_run):
    envs = gym.make_vec(
        "Pendulum-v1",
        num_envs=2,
        vectorization_mode="sync",
        wrappers=[lambda e: OTRewardWrapper(gym.wrappers.TimeLimit(e, 15), expert=[expert_run], mode="step")],
    )
    envs.reset(seed=0)
    total = np.zeros(2)
    for _ in range(15):
        _, r, _, _, info = envs.step(envs.action_space.sample())
        total += r
    assert np.all(np.isfinite(total)) and np.all(total >= 0) and "env_reward" in info
    envs.close()


def test_wrong_inputs_fail_clearly(expert_run):
    cart = rollout("CartPole-v1", n_episodes=1, max_steps=10, seed=0)
    with pytest.raises(ValueError, match="obs_dim 4 but the env's observations have 3"):
        OTRewardWrapper(_pendulum(), expert=cart)
    with pytest.raises(ValueError, match="at least one"):
        OTRewardWrapper(_pendulum(), expert=[])
    bad = expert_run.obs.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"expert\[0\].*must be finite; got nan"):
        OTRewardWrapper(_pendulum(), expert=[bad])
    with pytest.raises(ValueError, match="OTRewardWrapper: mode must be 'episode' or 'step'"):
        OTRewardWrapper(_pendulum(), expert=[expert_run], mode="online")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="obs_key='observation' given but"):
        OTRewardWrapper(_pendulum(), expert=[expert_run], obs_key="observation")
    env = OTRewardWrapper(_pendulum(), expert=[expert_run])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(1, np.float32))
    # a NaN observation from the env is named with its step
    nan_env = OTRewardWrapper(
        gym.wrappers.TransformObservation(_pendulum(), lambda o: o * np.nan, None), [expert_run]
    )
    with pytest.raises(ValueError, match="observation at step 0 holds NaN"):
        nan_env.reset(seed=0)
    ailot = AILOTRewarder(IdentityEncoder(), k=2)
    assert OTRewardWrapper(_pendulum(), expert=[expert_run], rewarder=ailot).rewarder is ailot
    with pytest.raises(ValueError, match="OTRewardWrapper: device is for the default rewarder"):
        OTRewardWrapper(_pendulum(), expert=[expert_run], rewarder=ailot, device="cpu")
    assert OTRewardWrapper(_pendulum(), expert=[expert_run], device="cpu").rewarder.device.type == "cpu"


def test_default_rewarder_copes_with_a_near_static_expert():
    """An expert that holds its state (InvertedDoublePendulum balancing: stds of 3e-5) must not make every
    other state infinitely far: the floored standardisation keeps rewards graded and Sinkhorn converging."""
    import warnings

    from sb3_ot.wrappers.env import DEFAULT_MIN_STD, default_rewarder

    rng = np.random.default_rng(0)
    expert = np.ones((300, 9), np.float32) + rng.normal(0, 3e-5, (300, 9)).astype(np.float32)
    near = Trajectory(expert[:21] + 0.1 * rng.normal(size=(21, 9)).astype(np.float32), None, terminated=True)
    far = Trajectory(expert[:21] + 1.0 * rng.normal(size=(21, 9)).astype(np.float32), None, terminated=True)
    rewarder = default_rewarder().set_expert(expert)
    assert (rewarder.encoder.std >= DEFAULT_MIN_STD).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "Sinkhorn stopped at max_iter" would fail here
        r_near, r_far = rewarder.rewards([near, far])
    assert r_near.sum() > r_far.sum() > 0

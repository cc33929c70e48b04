"""OTRewardVecEnvWrapper and OTRewardCallback: batched rewards, and OT rewards in SB3's buffers."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv

from sb3_ot.data import Trajectory, rollout, sinusoidal_policy
from sb3_ot.wrappers import OTRewardCallback, OTRewardVecEnvWrapper, OTRewardWrapper


def _tiny() -> dict:
    return dict(net_arch=[8])  # a fresh dict: SB3 algorithms add keys to policy_kwargs


@pytest.fixture(scope="module")
def expert():
    env = gym.make("Pendulum-v1", max_episode_steps=30)
    return rollout(env, sinusoidal_policy(env.action_space, seed=0), n_episodes=1, seed=3)[0]


def _pendulum(max_steps: int):
    return lambda: gym.make("Pendulum-v1", max_episode_steps=max_steps)


def _episode_rewards(rewarder, obs: np.ndarray, next_last: np.ndarray) -> np.ndarray:
    """The rewarder's whole-episode rewards from the observations a buffer stored."""
    traj = Trajectory(np.concatenate([obs, next_last[None]]), None, terminated=False)
    return rewarder.rewards([traj])[0]


@pytest.mark.filterwarnings("ignore::sb3_ot.wrappers.env.UnclaimedRewardWarning")  # it reads the infos itself
def test_vec_wrapper_matches_the_env_wrapper_and_batches(expert):
    lengths = [7, 10]
    venv = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(n) for n in lengths]), expert)
    singles = [OTRewardWrapper(_pendulum(n)(), expert) for n in lengths]
    venv.seed(5)
    venv.reset()
    for i, env in enumerate(singles):
        env.reset(seed=5 + i)  # DummyVecEnv.seed gives env i the seed 5 + i
    rng = np.random.default_rng(0)
    got: dict[int, list[np.ndarray]] = {0: [], 1: []}
    want: dict[int, list[np.ndarray]] = {0: [], 1: []}
    for _ in range(20):
        actions = rng.uniform(-2, 2, (2, 1)).astype(np.float32)
        _, rewards, dones, infos = venv.step(actions)
        assert (rewards == 0).all()
        for i, env in enumerate(singles):
            _, env_reward, term, trunc, info = env.step(actions[i])
            assert infos[i]["env_reward"] == pytest.approx(info["env_reward"])
            if dones[i]:
                got[i].append(infos[i]["ot_rewards"])
                want[i].append(info["ot_rewards"])
                env.reset()
    assert [len(got[0]), len(got[1])] == [2, 2]  # episodes of 7 and 10 steps in 20 steps
    for i in (0, 1):
        for g, w in zip(got[i], want[i], strict=True):
            assert g.shape == (lengths[i],)
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)


def test_vec_wrapper_step_mode_and_unfinished_rewards(expert):
    venv = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(12)] * 2), expert, mode="step")
    single = OTRewardWrapper(_pendulum(12)(), expert, mode="step")
    venv.seed(0)
    venv.reset()
    single.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(5):
        actions = rng.uniform(-2, 2, (2, 1)).astype(np.float32)
        _, rewards, _, _ = venv.step(actions)
        _, reward, *_ = single.step(actions[0])
        assert rewards[0] == pytest.approx(reward, rel=1e-5, abs=1e-7)
    unfinished = venv.unfinished_rewards()
    assert [len(u) for u in unfinished] == [5, 5]
    np.testing.assert_allclose(unfinished[0], single.unfinished_rewards(), rtol=1e-5, atol=1e-7)
    assert unfinished[0][-1] == pytest.approx(rewards[0], rel=1e-5, abs=1e-7)


def test_callback_writes_episode_rewards_into_the_replay_buffer(expert):
    """Two envs with episodes of 7 and 10 steps, 16 buffer rows per env (SB3 splits buffer_size), wrapping: every finished episode's
    rewards sit on its transitions, the running episodes' on none."""
    lengths = [7, 10]
    env = DummyVecEnv([lambda n=n: OTRewardWrapper(_pendulum(n)(), expert) for n in lengths])
    model = SAC("MlpPolicy", env, buffer_size=32, learning_starts=10_000, policy_kwargs=_tiny(), seed=0)
    callback = OTRewardCallback()
    model.learn(26, callback=callback)  # 13 steps per env: steps 0-12 in rows 0-12
    buf = model.replay_buffer
    rewarder = env.get_attr("rewarder")[0]
    # env 0 (7-step episodes): steps 0-6 finished, 7-12 still running
    want = _episode_rewards(rewarder, buf.observations[0:7, 0], buf.next_observations[6, 0])
    np.testing.assert_allclose(buf.rewards[0:7, 0], want, rtol=1e-5, atol=1e-7)
    assert (buf.rewards[7:13, 0] == 0).all()
    # env 1 (10-step episodes): steps 0-9 finished, 10-12 running
    want = _episode_rewards(rewarder, buf.observations[0:10, 1], buf.next_observations[9, 1])
    np.testing.assert_allclose(buf.rewards[0:10, 1], want, rtol=1e-5, atol=1e-7)
    assert (buf.rewards[10:13, 1] == 0).all()
    # 4 more steps per env (steps 13-16 in rows 13, 14, 15, 0: the buffer wraps), the same callback
    # going on: env 0's second episode (steps 7-13) ends at step 13, half before, half after the pause
    model.learn(8, callback=callback, reset_num_timesteps=False)
    want = _episode_rewards(rewarder, buf.observations[7:14, 0], buf.next_observations[13, 0])
    np.testing.assert_allclose(buf.rewards[7:14, 0], want, rtol=1e-5, atol=1e-7)
    assert (buf.rewards[[14, 15, 0], 0] == 0).all()  # its third episode is running, row 0 overwritten


class _Snapshot(BaseCallback):
    """Copies the rollout buffer (and the last values) at each rollout's end."""

    def __init__(self) -> None:
        super().__init__()
        self.snaps: list[dict[str, np.ndarray]] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        b = self.model.rollout_buffer
        self.snaps.append(
            dict(
                rewards=b.rewards.copy(),
                returns=b.returns.copy(),
                advantages=b.advantages.copy(),
                values=b.values.copy(),
                starts=b.episode_starts.copy(),
                last_values=self.locals["values"].numpy().ravel().copy(),
                dones=np.asarray(self.locals["dones"], dtype=np.float32).copy(),
                obs=b.observations.copy(),
                new_obs=np.asarray(self.locals["new_obs"]).copy(),
            )
        )


def _gae(s: dict, gamma: float, lam: float) -> np.ndarray:
    n = len(s["rewards"])
    adv = np.zeros_like(s["rewards"])
    last = 0.0
    for t in reversed(range(n)):
        if t == n - 1:
            nonterminal, next_values = 1.0 - s["dones"], s["last_values"]
        else:
            nonterminal, next_values = 1.0 - s["starts"][t + 1], s["values"][t + 1]
        delta = s["rewards"][t] + gamma * next_values * nonterminal - s["values"][t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv


def test_callback_rewrites_the_rollout_and_recomputes_advantages(expert):
    """PPO, 16-step rollouts, 10-step episodes: an episode ending in the rollout gets its whole-episode
    rewards, the one cut by the rollout's end its prefix rewards; returns and advantages follow."""
    venv = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(10)] * 2), expert)
    before, after = _Snapshot(), _Snapshot()
    model = PPO("MlpPolicy", venv, n_steps=16, batch_size=32, n_epochs=1, policy_kwargs=_tiny(), seed=0)
    finished: list[tuple[int, np.ndarray]] = []

    class Record(BaseCallback):
        def _on_step(self) -> bool:
            finished.extend(
                (i, info["ot_rewards"]) for i, info in enumerate(self.locals["infos"]) if "ot_rewards" in info
            )
            return True

    model.learn(32, callback=CallbackList([Record(), before, OTRewardCallback(), after]))
    s0, s1 = before.snaps[0], after.snaps[0]
    added = s1["rewards"] - s0["rewards"]
    assert (
        s0["rewards"][[9]] != 0
    ).all()  # PPO's time-out bootstrap gamma * V(s_T), kept under the OT reward
    assert sorted(i for i, _ in finished) == [0, 1]
    for i, whole in finished:  # steps 0-9: the episode that ended in the rollout
        np.testing.assert_allclose(added[0:10, i], whole, rtol=1e-5, atol=1e-6)
        # steps 10-15: cut by the rollout's end: the prefix rewards of its 6 steps so far
        prefix = np.concatenate([s1["obs"][10:16, i], s1["new_obs"][i][None]])
        want = venv.rewarder.prefix_rewards([prefix], last_only=False)[0]
        np.testing.assert_allclose(added[10:16, i], want, rtol=5e-3, atol=1e-6)  # batched: Sinkhorn tol
    np.testing.assert_allclose(
        s1["advantages"], _gae(s1, model.gamma, model.gae_lambda), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(s1["returns"], s1["advantages"] + s1["values"], rtol=1e-5, atol=1e-5)
    assert not np.allclose(s1["advantages"], s0["advantages"])


def test_callback_errors_name_the_problem(expert):
    plain = DummyVecEnv([_pendulum(10)])
    with pytest.raises(ValueError, match="no OT reward wrapper"):
        SAC("MlpPolicy", plain, policy_kwargs=_tiny()).learn(2, callback=OTRewardCallback())
    step = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(10)]), expert, mode="step")
    with pytest.raises(ValueError, match="mode='step'"):
        SAC("MlpPolicy", step, policy_kwargs=_tiny()).learn(2, callback=OTRewardCallback())
    with pytest.raises(ValueError, match="OTRewardVecEnvWrapper: venv must be an SB3 VecEnv"):
        OTRewardVecEnvWrapper(gym.make("Pendulum-v1"), expert)
    gym_vec = gym.make_vec("Pendulum-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="venv is a gymnasium vector env .SyncVectorEnv.*make_vec_env"):
        OTRewardVecEnvWrapper(gym_vec, expert)
    with pytest.raises(ValueError, match="obs_dim 3 but the env's observations have 4"):
        OTRewardVecEnvWrapper(DummyVecEnv([lambda: gym.make("CartPole-v1")]), expert)
    with pytest.raises(ValueError, match="mode"):
        OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(10)]), expert, mode="online")


def test_callback_with_her_replay_buffer_and_dict_observations():
    """PointMaze (Dict observations, a goal env) with SAC + HerReplayBuffer: the real transitions of a
    finished episode hold the rewarder's rewards on the ``observation`` key."""
    from stable_baselines3 import HerReplayBuffer

    from sb3_ot.data.envs import make_env

    def maze():
        return make_env("PointMaze_UMaze-v3", max_episode_steps=20)

    expert = rollout(maze(), None, n_episodes=1, seed=0)
    env = DummyVecEnv([lambda: OTRewardWrapper(maze(), expert, obs_key="observation")])
    model = SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        learning_starts=10_000,
        buffer_size=1000,
        policy_kwargs=_tiny(),
        seed=0,
    )
    model.learn(25, callback=OTRewardCallback())
    buf = model.replay_buffer
    rewarder = env.get_attr("rewarder")[0]
    want = _episode_rewards(
        rewarder, buf.observations["observation"][0:20, 0], buf.next_observations["observation"][19, 0]
    )
    np.testing.assert_allclose(buf.rewards[0:20, 0], want, rtol=1e-5, atol=1e-7)
    assert (buf.rewards[20:25, 0] == 0).all()  # the second episode is still running


def test_episode_rewards_nobody_claims_warn_once(expert):
    """Episode mode returns reward 0 during training; without OTRewardCallback (or a loop that claims the
    rewards) a learner would train on zeros. The first finished episode says so, once; the callback
    claims the rewards so SB3 runs stay quiet."""
    from sb3_ot.wrappers.env import UnclaimedRewardWarning

    venv = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(5)]), expert)
    venv.reset()
    with pytest.warns(UnclaimedRewardWarning, match="nothing has claimed them.*OTRewardCallback"):
        for _ in range(5):
            venv.step(np.zeros((1, 1), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnclaimedRewardWarning)
        for _ in range(5):  # a second episode: no second warning
            venv.step(np.zeros((1, 1), np.float32))
        env = DummyVecEnv([lambda: OTRewardWrapper(_pendulum(5)(), expert)])
        SAC("MlpPolicy", env, policy_kwargs=_tiny(), learning_starts=100).learn(
            12, callback=OTRewardCallback()
        )
        venv = OTRewardVecEnvWrapper(DummyVecEnv([_pendulum(5)]), expert)
        PPO("MlpPolicy", venv, n_steps=8, batch_size=8, n_epochs=1, policy_kwargs=_tiny()).learn(
            8, callback=OTRewardCallback()
        )
    single = OTRewardWrapper(_pendulum(3)(), expert)
    single.reset(seed=0)
    with pytest.warns(UnclaimedRewardWarning, match=r"OTRewardWrapper\(mode='episode'\)"):
        for _ in range(3):
            single.step(np.zeros(1, np.float32))

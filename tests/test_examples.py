"""The examples' --quick modes and the zoo_configs/ commands run end to end (as a user types them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], cwd: Path, timeout: int = 600) -> str:
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(cwd), WANDB_SILENT="true")
    proc = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize(
    ("script", "expect"),
    [
        ("sac_pendulum.py", "SAC + OT reward, 400 steps"),
        ("ppo_vecenv_pendulum.py", "PPO + OT reward (VecEnv wrapper), 512 steps"),
        ("cleanrl_step_mode.py", "DDPG + step-mode OT reward, 300 steps"),
        ("ppo_imagination_pendulum.py", "PPO in imagination (DITTO reward), 1024 imagined steps"),
        ("zilot_fetch_push.py", "evaluate_policy: 2 episodes of 5 steps"),
    ],
)
def test_example_quick_mode(script, expect, tmp_path):
    out = _run([str(ROOT / "examples" / script), "--quick"], cwd=tmp_path)
    assert expect in out


@pytest.mark.parametrize(
    ("algo", "extra"),
    [("sac", ["-n", "300", "--track"]), ("ppo", ["-n", "512", "-params", "n_steps:64"])],
)
def test_zoo_command(algo, extra, tmp_path):
    """The documented command, from a folder holding the repo's examples/ (the expert path in the YAML
    is relative), with wandb offline for SAC's --track."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    args = ["-m", "rl_zoo3.train", "--algo", algo, "--env", "Pendulum-v1", "--gym-packages", "sb3_ot"]
    args += ["--conf-file", str(ROOT / "zoo_configs" / f"{algo}.yml"), "-f", "logs", "--eval-freq", "-1"]
    _run(args + extra, cwd=tmp_path)
    saved = list((tmp_path / "logs" / algo).glob("Pendulum-v1_*/Pendulum-v1.zip"))
    assert saved, "rl-zoo3 saved no model"
    if "--track" in extra:
        assert list((tmp_path / "wandb").glob("offline-run-*")), "no offline wandb run was written"


def test_zoo_command_trains_ppo_in_imagination(tmp_path):
    """zoo_configs/ppo_imagination.yml as documented: a world model where `sb3-ot dream` writes it, the
    repo's demo as starts, rl-zoo3 training PPO on the registered sb3_ot/Imagination-v0."""
    from sb3_ot.data import rollout
    from sb3_ot.world_models import WorldModel

    (tmp_path / "examples").symlink_to(ROOT / "examples")
    tiny = {"latent_dim": 8, "hidden": (16, 16), "n_heads": 2, "batch_size": 32}
    data = rollout("Pendulum-v1", n_episodes=3, max_steps=30, seed=0)
    WorldModel(seed=0, **tiny).fit(data, n_updates=5, progress=False).save(
        tmp_path / "sb3_ot_dream" / "world_model.pt"
    )
    args = [
        "-m",
        "rl_zoo3.train",
        "--algo",
        "ppo",
        "--env",
        "sb3_ot/Imagination-v0",
        "--gym-packages",
        "sb3_ot.world_models",  # registers the id
    ]
    args += [
        "--conf-file",
        str(ROOT / "zoo_configs" / "ppo_imagination.yml"),
        "-f",
        "logs",
        "--eval-freq",
        "-1",
    ]
    _run(args + ["-n", "256", "-params", "n_envs:2", "n_steps:64", "batch_size:64"], cwd=tmp_path)
    assert list((tmp_path / "logs" / "ppo").glob("*Imagination-v0_*/*.zip")), "rl-zoo3 saved no model"

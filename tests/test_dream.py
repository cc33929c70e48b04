"""`sb3-ot dream` end to end, tiny: Pendulum, a tiny expert, a tiny world model, a few hundred imagined PPO
steps for each reward, BC and D-BC, wandb offline."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
import torch

from sb3_ot.cli import build_parser, dream_config, main
from sb3_ot.dream import DreamConfig, _method, run_dream


def test_cli_arguments_make_the_config():
    assert dream_config(build_parser().parse_args(["dream"])) == DreamConfig()  # the embedded default
    args = build_parser().parse_args(
        ["dream", "HalfCheetah-v5", "--reward", "ditto", "otr", "--dataset", "medium", "--experts", "3"]
        + ["--seeds", "0", "1", "2", "--ppo-steps", "5000", "--wm-updates", "100", "--wandb", "--quiet"]
    )
    cfg = dream_config(args)
    assert (cfg.env, cfg.rewards, cfg.dataset, cfg.experts, cfg.seeds) == (
        "HalfCheetah-v5", ("ditto", "otr"), "medium", 3, (0, 1, 2)
    )  # fmt: skip
    assert (cfg.ppo_steps, cfg.wm_updates, cfg.wandb, cfg.progress) == (5000, 100, True, False)
    assert DreamConfig().expert_steps == 8000 and cfg.expert_steps is None  # HalfCheetah's own expert budget


def test_dream_runs_end_to_end_and_writes_table_plots_model_and_wandb(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    torch.set_num_threads(1)
    cfg = DreamConfig(
        env="Pendulum-v1", dataset="medium", experts=1, rewards=("ditto", "ailot", "otr", "cmil", "gail"),
        dataset_steps=400, expert_steps=300, latent_dim=8, wm_hidden=(16, 16), n_heads=2, wm_updates=20,
        ppo_steps=256, n_envs=16, eval_every=128, bc_steps=8, n_eval_episodes=1,
        out_dir=str(tmp_path / "out"), wandb=True, progress=False,
    )  # fmt: skip
    result = run_dream(cfg)
    out = capsys.readouterr().out
    methods = ["BC (expert demos)", "D-BC (expert latents)", "PPO + DITTO", "PPO + AILOT (latent)"]
    methods += ["PPO + OTR (latent)", "PPO + CMIL - 10 u + 10 BC", "PPO + D-GAIL"]
    methods += ["expert demos", "random (ref_min)", "expert (ref_max)"]
    assert [r["method"] for r in result["rows"]] == methods
    for method in methods:
        assert method in out
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == methods
    assert [s for s, _, _ in saved["curves"]["PPO + DITTO"][0]] == [0, 128, 256]
    assert [u for u, _, _ in saved["curves"]["D-BC (expert latents)"][0]] == [0, 2, 4, 6, 8]
    assert all(-17 * 200 <= r <= 0 for s, r, _ in saved["curves"]["PPO + OTR (latent)"][0])  # real returns
    assert set(saved["ppo_seconds_per_100k_steps"]) == {
        "PPO + DITTO",
        "PPO + AILOT (latent)",
        "PPO + OTR (latent)",
        "PPO + CMIL - 10 u + 10 BC",
        "PPO + D-GAIL",
    }
    assert "discriminator: accuracy on expert" in out  # CMIL's and D-GAIL's, said at the end
    assert (tmp_path / "out" / "ppo_cmil_seed0.zip").exists()
    from sb3_ot.rewards import AdversarialRewarder

    assert AdversarialRewarder.load(tmp_path / "out" / "discriminator_gail_seed0.pt").config.form == "gail"
    for png in ("learning_curves.png", "model_vs_real.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"
    from sb3_ot.world_models import WorldModel

    assert WorldModel.load(tmp_path / "out" / "world_model.pt").config.latent_dim == 8
    again = run_dream(
        DreamConfig(
            **(asdict(cfg) | {"rewards": ("ditto",), "world_model": str(tmp_path / "out" / "world_model.pt")})
        )
    )  # the saved model, not a new fit
    assert (
        "world model: loaded" in capsys.readouterr().out and again["rows"][0]["method"] == "BC (expert demos)"
    )
    with pytest.raises(ValueError, match="DreamConfig: world_model must be a saved WorldModel file"):
        DreamConfig(world_model=str(tmp_path / "missing.pt"))
    assert list((tmp_path / "out" / "wandb").glob("offline-run-*"))


def test_dream_from_pixels_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    torch.set_num_threads(1)
    cfg = DreamConfig(
        env="Pendulum-v1", dataset="medium", experts=1, rewards=("ditto", "cmil"), dataset_steps=400,
        expert_steps=300, latent_dim=8, wm_hidden=(16, 16), n_heads=2, wm_updates=4, wm_batch=8, cnn_depth=4,
        ppo_steps=128, n_envs=16, eval_every=128, bc_steps=4, n_eval_episodes=1, pixels=True,
        out_dir=str(tmp_path / "out"), progress=False,
    )  # fmt: skip
    result = run_dream(cfg)
    out = capsys.readouterr().out
    assert "rendered every episode as (3, 64, 64) uint8 frames" in out
    methods = ["BC (expert demos)", "D-BC (expert latents)", "PPO + DITTO", "PPO + CMIL - 10 u + 10 BC"]
    assert [r["method"] for r in result["rows"]][:4] == methods
    assert all(-17 * 200 <= r <= 0 for _, r, _ in result["curves"]["BC (expert demos)"][0])  # real returns
    from sb3_ot.world_models import WorldModel

    assert WorldModel.load(tmp_path / "out" / "world_model.pt").obs_shape == (3, 64, 64)
    assert (tmp_path / "out" / "model_vs_real.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"pixels=True needs an env whose frames sb3-ot can render"):
        DreamConfig(env="HalfCheetah-v5", pixels=True)
    with pytest.raises(ValueError, match=r"takes frames|takes observations \(3, 64, 64\)"):
        run_dream(DreamConfig(**(asdict(cfg) | {"pixels": False, "world_model": result["world_model"]})))


def test_bad_settings_fail_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    assert main(["dream", "Pendulum-v1", "--experts", "0"]) == 2
    assert (
        "sb3-ot dream: error: DreamConfig: experts must be a positive int; got 0" in capsys.readouterr().err
    )
    assert main(["dream", "--ppo-steps", "-5"]) == 2
    assert "DreamConfig: ppo_steps must be a positive int; got -5" in capsys.readouterr().err
    assert not (tmp_path / "home").exists() and not (tmp_path / "minari").exists()  # nothing was built
    with pytest.raises(
        ValueError, match=r"DreamConfig: rewards must be one of \['ditto', 'ailot', 'otr', 'cmil'"
    ):
        DreamConfig(rewards=("wgan",))
    with pytest.raises(ValueError, match="DreamConfig: penalty applies to the per-step rewards only"):
        DreamConfig(rewards=("ditto", "otr"), penalty=10.0)
    assert DreamConfig(rewards="ditto", penalty=10.0).rewards == ("ditto",)  # a str is one reward
    assert dream_config(build_parser().parse_args(["dream", "--penalty", "10"])).penalty == 10.0
    assert dream_config(build_parser().parse_args(["dream", "--bc-coef", "10"])).bc_coef == 10.0
    assert dream_config(build_parser().parse_args(["dream", "--horizon", "8"])).horizon == 8
    assert dream_config(build_parser().parse_args(["dream", "--wm-consistency", "200"])).wm_consistency == 200
    with pytest.raises(ValueError, match="DreamConfig: wm_consistency"):
        DreamConfig(wm_consistency=-1.0)
    assert _method(DreamConfig(penalty=10.0, bc_coef=10.0), "ditto") == "PPO + DITTO - 10 u + 10 BC"
    assert _method(DreamConfig(), "cmil") == "PPO + CMIL - 10 u + 10 BC"  # CMIL's own settings
    assert _method(DreamConfig(penalty=0.0), "cmil") == "PPO + CMIL + 10 BC"  # CMIL without the penalty
    assert _method(DreamConfig(), "gail") == "PPO + D-GAIL"
    assert _method(DreamConfig(rewards="gail", starts="data"), "gail") == "PPO + D-GAIL (data starts)"
    assert (
        dream_config(build_parser().parse_args(["dream", "--reward", "cmil", "--starts", "expert"])).starts
        == "expert"
    )
    with pytest.raises(ValueError, match="DreamConfig: starts='data' cannot pay the ditto reward"):
        DreamConfig(starts="data")
    with pytest.raises(ValueError, match=r"DreamConfig: bc_coef must be a finite number in \[0, inf\)"):
        DreamConfig(bc_coef=-1.0)
    with pytest.raises(ValueError, match="DreamConfig: gamma must be"):
        DreamConfig(gamma=1.5)
    with pytest.raises(ValueError, match="DreamConfig: latent_dim must be >= 2"):
        DreamConfig(latent_dim=1)
    with pytest.raises(ValueError, match="DreamConfig: wm_hidden must hold at least one layer width"):
        DreamConfig(wm_hidden=())
    with pytest.raises(ValueError, match="DreamConfig: device must name a torch device"):
        DreamConfig(device="gpu")
    cfg = DreamConfig(experts=np.int64(2), seeds=[np.int64(3)], rewards="otr")
    assert type(cfg.experts) is int and cfg.seeds == (3,) and cfg.rewards == ("otr",)

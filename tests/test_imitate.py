"""The main job end to end, tiny: Pendulum, a tiny expert, a few IQL/BC updates, wandb offline."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from sb3_ot.cli import build_parser, imitate_config, main
from sb3_ot.imitate import ImitateConfig, run_imitate


def test_cli_arguments_make_the_config():
    args = build_parser().parse_args(["imitate"])
    assert imitate_config(args) == ImitateConfig(wandb=False, progress=True)  # the embedded default
    args = build_parser().parse_args(
        [
            "imitate",
            "Hopper-v5",
            "--dataset",
            "medium-expert",
            "--experts",
            "3",
            "--rewarder",
            "ailot",
            "true",
            "--steps",
            "500",
            "--seeds",
            "0",
            "1",
            "2",
            "--wandb",
            "--quiet",
        ]
    )
    cfg = imitate_config(args)
    assert (cfg.env, cfg.dataset, cfg.experts, cfg.rewarders, cfg.steps, cfg.seeds) == (
        "Hopper-v5",
        "medium-expert",
        3,
        ("ailot", "true"),
        500,
        (0, 1, 2),
    )
    assert cfg.dataset_steps is None and cfg.expert_steps is None  # the env's own budgets, not the default's
    assert cfg.wandb and not cfg.progress


def test_imitate_runs_end_to_end_and_writes_table_plots_and_wandb(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    cfg = dataclasses.replace(
        ImitateConfig(),
        env="Pendulum-v1",
        dataset="medium-expert",
        steps=20,
        eval_every=10,
        n_eval_episodes=1,
        dataset_steps=400,
        expert_steps=300,
        icvf_updates=20,
        icvf_hidden=(16, 16),
        hidden=(32, 32),
        out_dir=str(tmp_path / "out"),
        wandb=True,
        progress=False,
    )
    result = run_imitate(cfg)
    out = capsys.readouterr().out
    for method in (
        "IQL + AILOT",
        "IQL + OTR",
        "IQL + true reward",
        "BC (whole dataset)",
        "BC (expert demos)",
    ):
        assert method in out
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["method"] for r in saved["rows"]] == [r["method"] for r in result["rows"]]
    assert [u for u, _, _ in saved["curves"]["IQL + AILOT"][0]] == [0, 10, 20]
    for png in ("learning_curves.png", "coupling.png"):
        assert (tmp_path / "out" / png).read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "out" / "wandb").glob("offline-run-*"))


def test_bad_settings_fail_before_any_work(tmp_path, monkeypatch, capsys):
    """`--experts 0` or `--steps -5` used to start a 20k-step expert training before failing."""
    monkeypatch.setenv("SB3_OT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    assert main(["imitate", "Pendulum-v1", "--experts", "0"]) == 2
    assert (
        "sb3-ot imitate: error: ImitateConfig: experts must be a positive int; got 0"
        in capsys.readouterr().err
    )
    assert main(["imitate", "Pendulum-v1", "--steps", "-5"]) == 2
    assert "ImitateConfig: steps must be a positive int; got -5" in capsys.readouterr().err
    assert not (tmp_path / "home").exists() and not (tmp_path / "minari").exists()  # nothing was built
    with pytest.raises(
        ValueError, match=r"ImitateConfig: rewarders must be one of \['ailot', 'otr', 'true'\]"
    ):
        ImitateConfig(rewarders=("gail",))
    with pytest.raises(ValueError, match="ImitateConfig: dataset must be one of"):
        ImitateConfig(dataset="medium_replay")
    with pytest.raises(ValueError, match="ImitateConfig: ailot_eps must be a finite number"):
        ImitateConfig(ailot_eps=float("nan"))
    with pytest.raises(ValueError, match="ImitateConfig: device must name a torch device"):
        ImitateConfig(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(
            ValueError, match="ImitateConfig: device 'cuda' asked for, but torch sees no CUDA"
        ):
            ImitateConfig(device="cuda")
    assert imitate_config(build_parser().parse_args(["imitate", "--device", "cpu"])).device == "cpu"
    cfg = ImitateConfig(experts=np.int64(2), seeds=[np.int64(3)])  # numpy integers are ints
    assert type(cfg.experts) is int and cfg.seeds == (3,)

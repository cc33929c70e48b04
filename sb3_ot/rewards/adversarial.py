"""Adversarial rewards inside a world model: CMIL's discriminator and D-GAIL.

CMIL (Kolev et al., official code ``victorkolev/cmil``) trains a discriminator ``D(z, a)`` to tell the
expert's latent-action pairs from the imagined ones and rewards the imagined agent with ``D`` (a
probability), minus ``lambda * u`` (the world model's uncertainty, which the imagination env subtracts:
``ImaginationVecEnv(uncertainty_penalty=lambda)``; this module never imports the world model). The
discriminator is an ELU MLP 2 x 200 with one logit, trained by binary cross-entropy on noisy inputs with
Adam at 3e-4. D-GAIL is the adversarial reward without the penalty; with ``form="gail"`` the reward is
GAIL's ``-log(1 - D)``.

Two defaults depart from CMIL's config, measured (docs/world_models.md): the input noise is 0.1, not
2.5 -- CMIL adds it to 760-dim DreamerV2 features; on a 32-dim latent, 2.5 leaves the discriminator at
chance (D-GAIL on Pendulum scored 13 with it, 73 with 0.1) -- and ``D`` takes 40 updates of 256 + 256
pairs per PPO rollout (CMIL updates it on every imagined batch, ~24k pairs): with 10, 73; with 40, 90.

The rewarder is called by the imagination env once per step with the latents before the step (``z``) and
the actions; it remembers those imagined pairs, and :meth:`AdversarialRewarder.update` (called by
``sb3_ot.wrappers.AdversarialRewardCallback`` at each rollout's end) trains ``D`` on them against the
expert's pairs. Rewards use the clean inputs (the noise regularises training only).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sb3_ot._args import check_choice, check_float, check_int, check_widths, with_overrides
from sb3_ot._files import load_checkpoint, save_checkpoint
from sb3_ot.data.trajectory import Trajectory, state_action_pairs
from sb3_ot.encoders.base import as_device
from sb3_ot.nn import mlp

__all__ = ["AdversarialConfig", "AdversarialRewarder"]

FORMS = ("prob", "gail")


@dataclass(frozen=True)
class AdversarialConfig:
    """Discriminator settings (defaults: CMIL's official config, but ``noise`` and ``updates``: see above).

    ``hidden`` the ELU MLP's widths; ``noise`` the std of the Gaussian noise added to the inputs while
    training; ``lr`` Adam's step; ``batch_size`` expert and imagined pairs per update; ``updates``
    discriminator updates per call of :meth:`AdversarialRewarder.update` (one per PPO rollout);
    ``capacity`` the imagined pairs remembered (the most recent); ``form`` the reward: ``"prob"``
    (``D``, CMIL) or ``"gail"`` (``-log(1 - D)``).
    """

    hidden: tuple[int, ...] = (200, 200)
    noise: float = 0.1  # CMIL: 2.5 on 760-dim features; chance level on our 32-dim latents
    lr: float = 3e-4
    batch_size: int = 256
    updates: int = 40
    capacity: int = 20_000
    form: str = "prob"

    def __post_init__(self) -> None:
        func = "AdversarialConfig"
        object.__setattr__(self, "hidden", check_widths(self.hidden, "hidden", func))
        check_float(self.noise, "noise", func, low=0.0, low_open=False)
        check_float(self.lr, "lr", func)
        for name in ("batch_size", "updates", "capacity"):
            object.__setattr__(self, name, check_int(getattr(self, name), name, func))
        check_choice(self.form, "form", func, FORMS)


class AdversarialRewarder:
    """CMIL's discriminator reward ``D(z_t, a_t)`` (or GAIL's ``-log(1 - D)``) for imagined episodes.

    Parameters
    ----------
    expert : sequence of Trajectory, optional
        The expert's latent trajectories with actions (``WorldModel.latent_trajectories(demos)``): pairs
        ``(obs[t], acts[t])``; see :meth:`set_expert`.
    n_actions : int, optional
        For Discrete actions: their number (actions enter ``D`` one-hot). ``None``: Box actions.
    config : AdversarialConfig, optional; ``**overrides`` replace its fields.
    seed : int
        Seeds the discriminator's weights, noise and minibatches.
    device : str or torch.device, optional
        Where ``D`` lives and rewards are computed (default the CPU).

    Called as ``reward(z_next [n, L], actions [n, ...], episode, time, z=z [n, L]) -> [n]`` (the
    imagination env passes ``z`` because :attr:`needs_state` is set); rows are scored on ``(z, a)``.
    """

    needs_state = True  # the imagination env passes the latents before the step as z=

    def __init__(
        self,
        expert: Sequence[Trajectory] | None = None,
        *,
        n_actions: int | None = None,
        config: AdversarialConfig | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
        **overrides: Any,
    ) -> None:
        func = "AdversarialRewarder"
        self.config = with_overrides(config or AdversarialConfig(), overrides, func)
        self.n_actions = None if n_actions is None else check_int(n_actions, "n_actions", func)
        self.seed = check_int(seed, "seed", func, minimum=0)
        self.device = as_device(device) or torch.device("cpu")
        self._generator = torch.Generator(device="cpu").manual_seed(self.seed)
        self.net: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.expert = torch.zeros(0, 0)  # [N, L + A] expert pairs
        self._imagined: list[torch.Tensor] = []  # pairs seen since the last update
        self._pool = torch.zeros(0, 0)  # [<= capacity, L + A] the most recent imagined pairs
        self.metrics: dict[str, float] = {}
        if expert is not None:
            self.set_expert(expert)

    # ----------------------------------------------------------------- expert and network
    def set_expert(self, expert: Sequence[Trajectory]) -> AdversarialRewarder:
        """Set the expert latent-action pairs (trajectories with actions); builds ``D`` on first call."""
        func = "AdversarialRewarder.set_expert"
        obs, acts = state_action_pairs(expert, func, "the discriminator scores latent-action pairs")
        z, a = torch.as_tensor(obs), self._action_features(torch.as_tensor(acts), func)
        if z.ndim != 2:
            raise ValueError(
                f"{func}: expert observations must be latents [T+1, L]; got {tuple(z.shape[1:])}"
            )
        pairs = torch.cat([z, a], 1).to(self.device)
        if self.net is not None and pairs.shape[1] != self.expert.shape[1]:
            raise ValueError(
                f"{func}: expert pairs have {pairs.shape[1]} features; the discriminator takes {self.expert.shape[1]}"
            )
        self.expert = pairs
        if self.net is None:
            self._build(pairs.shape[1])
        return self

    def _build(self, in_dim: int) -> None:
        torch.manual_seed(self.seed)
        self.net = mlp(in_dim, self.config.hidden, 1, activation=nn.ELU, norm="none").to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)

    def _action_features(self, a: torch.Tensor, func: str) -> torch.Tensor:
        """Box actions ``[n, A]`` as floats, Discrete ``[n]`` one-hot; checked."""
        if self.n_actions is not None:
            a = a.reshape(len(a))
            if a.is_floating_point() or bool(((a < 0) | (a >= self.n_actions)).any()):
                raise ValueError(
                    f"{func}: actions must be integers in [0, {self.n_actions}); got {a[:5].tolist()}"
                )
            return nn.functional.one_hot(a.long(), self.n_actions).float()
        a = a.float().reshape(len(a), -1)
        if not bool(torch.isfinite(a).all()):
            raise ValueError(f"{func}: actions must be finite; got NaN or inf")
        return a

    @property
    def in_dim(self) -> int:
        return int(self.expert.shape[1])

    # ----------------------------------------------------------------- reward
    @torch.no_grad()
    def probability(self, z: Any, actions: Any) -> torch.Tensor:
        """``D(z, a) [n]``: the discriminator's probability that the pairs are the expert's."""
        return torch.sigmoid(self.net(self._pairs(z, actions, "AdversarialRewarder")).squeeze(-1))

    @torch.no_grad()
    def __call__(self, z_next: Any, actions: Any, episode: Any, time: Any, *, z: Any = None) -> torch.Tensor:
        """Rewards ``[n]`` of the imagined pairs ``(z, actions)``; the pairs are remembered for
        :meth:`update`. ``z_next``, ``episode`` and ``time`` are not used."""
        if z is None:
            raise ValueError("AdversarialRewarder: z (the latents before the step) is required")
        x = self._pairs(z, actions, "AdversarialRewarder")
        self._imagined.append(x)
        d = torch.sigmoid(self.net(x).squeeze(-1))
        if self.config.form == "gail":
            return -torch.log1p(-d.clamp_max(1 - 1e-6))
        return d

    def _pairs(self, z: Any, actions: Any, func: str) -> torch.Tensor:
        """The checked ``[n, L + A]`` inputs of ``D`` (which must exist: expert pairs set)."""
        if self.net is None:
            raise ValueError(f"{func}: no expert pairs set; call set_expert(...) first")
        z = _tensor(z).float().to(self.device)
        a = self._action_features(_tensor(actions).to(self.device), func)
        if z.ndim != 2 or len(a) != len(z) or z.shape[1] + a.shape[1] != self.in_dim:
            raise ValueError(
                f"{func}: z [n, L] and actions [n, ...] must give {self.in_dim} features per row as the "
                f"expert's pairs; got z {tuple(z.shape)} and actions {tuple(a.shape)}"
            )
        if not bool(torch.isfinite(z).all()):
            raise ValueError(f"{func}: z must be finite; got NaN or inf")
        return torch.cat([z, a], 1)

    # ----------------------------------------------------------------- training
    def update(self, n_updates: int | None = None) -> dict[str, float]:
        """Train ``D`` on the imagined pairs seen so far against the expert's; returns (and keeps in
        :attr:`metrics`) the last update's loss, accuracies on expert and imagined pairs (clean
        inputs) and mean ``D`` on each. Without new imagined pairs it does nothing and returns ``{}``."""
        func = "AdversarialRewarder.update"
        if self.net is None or self.optimizer is None:
            raise ValueError(f"{func}: no expert pairs set; call set_expert(...) first")
        if not self._imagined:
            return {}
        pool = self._pool if len(self._pool) else self.expert[:0]
        self._pool = torch.cat([pool, *self._imagined])[-self.config.capacity :]
        self._imagined = []
        n = self.config.updates if n_updates is None else check_int(n_updates, "n_updates", func)
        for _ in range(n):
            expert, imagined = self._sample(self.expert), self._sample(self._pool)
            loss = self._step(expert, imagined)
        with torch.no_grad():
            d_e = torch.sigmoid(self.net(expert).squeeze(-1))
            d_i = torch.sigmoid(self.net(imagined).squeeze(-1))
        self.metrics = {
            "loss": loss,
            "expert_accuracy": float((d_e > 0.5).float().mean()),
            "imagined_accuracy": float((d_i < 0.5).float().mean()),
            "expert_d": float(d_e.mean()),
            "imagined_d": float(d_i.mean()),
        }
        if not all(math.isfinite(v) for v in self.metrics.values()):
            raise RuntimeError(f"{func}: the discriminator diverged (non-finite metrics {self.metrics})")
        return dict(self.metrics)

    def _sample(self, pairs: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(len(pairs), (self.config.batch_size,), generator=self._generator)
        return pairs[idx.to(pairs.device)]

    def _step(self, expert: torch.Tensor, imagined: torch.Tensor) -> float:
        assert self.net is not None and self.optimizer is not None
        x = torch.cat([expert, imagined])
        noise = torch.randn(x.shape, generator=self._generator).to(x.device) * self.config.noise
        labels = torch.cat([torch.ones(len(expert)), torch.zeros(len(imagined))]).to(x.device)
        loss = nn.functional.binary_cross_entropy_with_logits(self.net(x + noise).squeeze(-1), labels)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # ----------------------------------------------------------------- files
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the config, the discriminator's weights and the expert pairs (atomically; tensors only)."""
        if self.net is None:
            raise ValueError("AdversarialRewarder.save: no expert pairs set; nothing to save")
        payload = {
            "kind": "AdversarialRewarder",
            "config": asdict(self.config),
            "n_actions": self.n_actions,
            "seed": self.seed,
            "expert": self.expert.cpu(),
            "weights": {k: v.cpu() for k, v in self.net.state_dict().items()},
        }
        return save_checkpoint(path, payload)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, device: str | torch.device | None = None
    ) -> AdversarialRewarder:
        """Load a rewarder saved with :meth:`save` (nothing in the file is executed)."""
        data = load_checkpoint(
            path, func="AdversarialRewarder.load", what="rewarder file", kind="AdversarialRewarder"
        )
        cfg = data["config"]
        rewarder = cls(
            n_actions=data["n_actions"], config=AdversarialConfig(**cfg | {"hidden": tuple(cfg["hidden"])}),
            seed=data["seed"], device=device,
        )  # fmt: skip
        rewarder.expert = data["expert"].to(rewarder.device)
        rewarder._build(rewarder.in_dim)
        assert rewarder.net is not None
        rewarder.net.load_state_dict(data["weights"])
        return rewarder

    def __repr__(self) -> str:
        return (
            f"AdversarialRewarder(pairs={len(self.expert)}, in_dim={self.in_dim if self.net else None}, "
            f"form={self.config.form!r})"
        )


def _tensor(x: Any) -> torch.Tensor:
    """A tensor of ``x`` (arrays are copied: a read-only numpy array, e.g. a Trajectory's, stays untouched)."""
    return x if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x))

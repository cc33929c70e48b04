"""Rewarders: OT rewards (AILOT, OTR presets), latent similarity (DITTO), adversarial (CMIL, D-GAIL).

* :class:`OTRewarder` -- per-step OT rewards against expert demonstrations, batched through :mod:`sb3_ot.ot`.
* :class:`AILOTRewarder` -- ICVF intent pairs, squared Euclidean, start-aligned, best expert.
* :class:`OTRRewarder` -- cosine cost on raw observations, OTR's squashing, best expert.
* :class:`LatentRewarder` -- DITTO: ``<z, z^E> / max(|z|, |z^E|)^2`` against the expert latent at the same
  time offset, for imagined episodes in a world model.
* :class:`AdversarialRewarder` -- CMIL / D-GAIL: a discriminator on imagined vs expert ``(z, a)`` pairs,
  trained while PPO learns (``sb3_ot.wrappers.AdversarialRewardCallback``).
"""

from sb3_ot.rewards.adversarial import AdversarialConfig, AdversarialRewarder
from sb3_ot.rewards.latent import LatentRewarder
from sb3_ot.rewards.ot import (
    AILOTRewarder,
    Coupling,
    OTRewardConfig,
    OTRewarder,
    OTRRewarder,
    as_trajectories,
    iql_reward_scale,
    relabel_for_offline,
)

__all__ = [
    "AILOTRewarder",
    "AdversarialConfig",
    "AdversarialRewarder",
    "Coupling",
    "LatentRewarder",
    "OTRRewarder",
    "OTRewardConfig",
    "OTRewarder",
    "as_trajectories",
    "iql_reward_scale",
    "relabel_for_offline",
]

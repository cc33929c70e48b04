"""Rewarders: OT rewards (AILOT, OTR presets); latent (DITTO) and adversarial (CMIL) rewards come later.

* :class:`OTRewarder` -- per-step OT rewards against expert demonstrations, batched through :mod:`sb3_ot.ot`.
* :class:`AILOTRewarder` -- ICVF intent pairs, squared Euclidean, start-aligned, best expert.
* :class:`OTRRewarder` -- cosine cost on raw observations, OTR's squashing, best expert.
"""

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
    "Coupling",
    "OTRRewarder",
    "OTRewardConfig",
    "OTRewarder",
    "as_trajectories",
    "iql_reward_scale",
    "relabel_for_offline",
]

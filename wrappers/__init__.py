"""Gymnasium env wrappers, SB3 VecEnv wrappers/callbacks and dataset wrappers (installed as ``sb3_ot.wrappers``).

* :class:`OTRewardWrapper` -- any Gymnasium env rewarded by OT to expert demonstrations
  (``mode="episode"``: the whole-episode OT reward at the episode's end; ``mode="step"``: causal).
* :class:`OTRewardVecEnvWrapper` -- the same for an SB3 ``VecEnv``, one batched OT call per step.
* :class:`OTRewardCallback` -- writes ``mode="episode"`` rewards into SB3's replay / rollout buffers.
* :class:`AdversarialRewardCallback` -- trains CMIL's / D-GAIL's discriminator at each rollout's end.
* :class:`BCTermCallback` -- a behaviour-cloning term on expert pairs for PPO / A2C (CMIL's actor term).
* :func:`relabel_dataset` -- a dataset's rewards replaced by OT rewards, as trajectories, a local
  Minari dataset and/or a d3rlpy ``MDPDataset``.
"""

from sb3_ot._quiet import quiet_legacy_gym

quiet_legacy_gym()  # before Stable-Baselines3, which imports the legacy gym package

from sb3_ot.wrappers.adversarial import AdversarialRewardCallback  # noqa: E402
from sb3_ot.wrappers.bc import BCTermCallback  # noqa: E402
from sb3_ot.wrappers.callbacks import OTRewardCallback  # noqa: E402
from sb3_ot.wrappers.dataset import RelabelResult, relabel_dataset  # noqa: E402
from sb3_ot.wrappers.env import OTRewardWrapper  # noqa: E402
from sb3_ot.wrappers.vec_env import OTRewardVecEnvWrapper  # noqa: E402

__all__ = [
    "AdversarialRewardCallback",
    "BCTermCallback",
    "OTRewardCallback",
    "OTRewardVecEnvWrapper",
    "OTRewardWrapper",
    "RelabelResult",
    "relabel_dataset",
]

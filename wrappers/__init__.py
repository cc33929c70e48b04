"""Gymnasium env wrappers, SB3 VecEnv wrappers/callbacks and dataset wrappers (installed as ``sb3_ot.wrappers``).

* :class:`OTRewardWrapper` -- any Gymnasium env rewarded by OT to expert demonstrations
  (``mode="episode"``: the whole-episode OT reward at the episode's end; ``mode="step"``: causal).
* :func:`relabel_dataset` -- a dataset's rewards replaced by OT rewards, as trajectories, a local
  Minari dataset and/or a d3rlpy ``MDPDataset``.
"""

from sb3_ot.wrappers.dataset import RelabelResult, relabel_dataset
from sb3_ot.wrappers.env import OTRewardWrapper

__all__ = ["OTRewardWrapper", "RelabelResult", "relabel_dataset"]

"""Gymnasium env wrappers, SB3 VecEnv wrappers/callbacks and dataset wrappers (installed as ``sb3_ot.wrappers``).

* :func:`relabel_dataset` -- a dataset's rewards replaced by OT rewards, as trajectories, a local
  Minari dataset and/or a d3rlpy ``MDPDataset``.
"""

from sb3_ot.wrappers.dataset import RelabelResult, relabel_dataset

__all__ = ["RelabelResult", "relabel_dataset"]

"""World models: a deterministic latent model (encoder, K dynamics heads, decoder, termination) learned
from trajectories, for training policies in imagination (DITTO, CMIL). See docs/world_models.md.

* :class:`WorldModel` -- ``fit``, ``encode``, ``next``, ``decode``, ``terminated``, ``uncertainty``,
  ``prediction_error``, ``save`` / ``load``; :class:`WorldModelConfig` -- its frozen hyperparameters.
"""

from sb3_ot.world_models.model import WorldModel, WorldModelConfig

__all__ = ["WorldModel", "WorldModelConfig"]

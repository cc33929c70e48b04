"""World models: a deterministic latent model (encoder, K dynamics heads, decoder, termination) learned
from trajectories, for training policies in imagination (DITTO, CMIL). See docs/world_models.md.

* :class:`WorldModel` -- ``fit``, ``encode``, ``next``, ``decode``, ``terminated``, ``uncertainty``,
  ``prediction_error``, ``save`` / ``load``; :class:`WorldModelConfig` -- its frozen hyperparameters.
* :class:`ImaginationStarts`, :class:`ImaginationVecEnv` (an SB3 ``VecEnv``), :class:`ImaginationEnv`,
  :class:`LatentObservationWrapper` -- training in imagination (module ``imagination``).

The imagination names load on first use (they import Stable-Baselines3), so ``import sb3_ot.world_models``
stays light. The Gymnasium id ``"sb3_ot/Imagination-v0"`` is registered then, or at this import if
Gymnasium is already loaded; ``gymnasium.make("sb3_ot.world_models:sb3_ot/Imagination-v0", ...)`` always
finds it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from sb3_ot.world_models.model import WorldModel, WorldModelConfig

if TYPE_CHECKING:
    from sb3_ot.world_models.imagination import (
        ImaginationEnv,
        ImaginationStarts,
        ImaginationVecEnv,
        LatentObservationWrapper,
    )

_LAZY = ("ImaginationEnv", "ImaginationStarts", "ImaginationVecEnv", "LatentObservationWrapper")
__all__ = [
    "ImaginationEnv",
    "ImaginationStarts",
    "ImaginationVecEnv",
    "LatentObservationWrapper",
    "WorldModel",
    "WorldModelConfig",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from sb3_ot.world_models import imagination

        return getattr(imagination, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def _register() -> None:
    """Register ``"sb3_ot/Imagination-v0"`` (idempotent); the entry point is a string, so nothing heavy loads."""
    import gymnasium

    if "sb3_ot/Imagination-v0" not in gymnasium.registry:
        gymnasium.register(
            "sb3_ot/Imagination-v0", entry_point="sb3_ot.world_models.imagination:make_imagination_env"
        )


if "gymnasium" in sys.modules:  # registering costs nothing then; otherwise imagination.py registers
    _register()

"""State representations OT costs are computed in.

* :class:`IdentityEncoder` -- raw observations.
* :class:`NormalizedStateEncoder` -- observations standardised on the fitted data.
* :class:`ICVFEncoder` -- ICVF intents ``psi(s)`` (AILOT's representation), trained from observations only.

All share ``fit(trajectories)``, ``encode(obs [..., obs_dim]) -> [..., dim]``, ``save(path)`` and
``load(path)`` (:func:`load_encoder` for any of them).
"""

from sb3_ot.encoders.base import Encoder, IdentityEncoder, NormalizedStateEncoder, load_encoder
from sb3_ot.encoders.icvf import ICVFConfig, ICVFEncoder

__all__ = [
    "Encoder",
    "ICVFConfig",
    "ICVFEncoder",
    "IdentityEncoder",
    "NormalizedStateEncoder",
    "load_encoder",
]

"""The OT engine: every optimal-transport computation in sb3-ot goes through here.

* :func:`sinkhorn` — entropic OT between point clouds with a feature cost (squared Euclidean or
  cosine), batched, with per-point weights (zero = padding); dense torch or KeOps backends.
* :func:`sinkhorn_matrix` — the same solver on given (B, N, M) cost tensors (learned costs).
* :func:`emd` — exact OT cost through POT, for evaluation metrics; :func:`emd_matrix` — exact plans
  of given (B, N, M) cost tensors.

See :mod:`sb3_ot.ot.sinkhorn` for the eps and potential conventions (and their geomloss mapping).
"""

from ._keops import configure_env as _configure_keops

_configure_keops()

from .exact import emd, emd_matrix  # noqa: E402
from .sinkhorn import SinkhornResult, cost_matrix, sinkhorn, sinkhorn_matrix  # noqa: E402

__all__ = ["SinkhornResult", "cost_matrix", "emd", "emd_matrix", "sinkhorn", "sinkhorn_matrix"]

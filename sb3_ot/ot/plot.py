"""PNG figures of OT results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sb3_ot._files import atomic_write


def plot_coupling(plan, row_cost, path: str | Path, *, title: str = "OT coupling") -> Path:
    """Saves the (N, M) plan as an image beside its per-row transport cost (N,); returns the path.

    The file is written atomically (a temporary name, then moved into place).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    P = np.asarray(plan, dtype=np.float64)
    rc = np.asarray(row_cost, dtype=np.float64)
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4.5), gridspec_kw={"width_ratios": [3, 1]})
    im = ax0.imshow(
        np.log10(P * P.shape[0] + 1e-12), aspect="auto", origin="lower", cmap="magma", vmin=-4, vmax=0
    )
    ax0.set(xlabel="expert step j", ylabel="agent step i", title=title)
    fig.colorbar(im, ax=ax0, label="log10(N * P_ij)")
    ax1.plot(rc, np.arange(len(rc)))
    ax1.set(xlabel="row cost sum_j P_ij C_ij", ylim=(0, len(rc) - 1), title="per-step cost")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path

"""Folder-level atomic replacement: build a folder in a hidden scratch folder, then rename it into place.

Files go through :func:`sb3_ot._files.atomic_write`; a folder of several files (a Minari dataset, an
expert's resume checkpoint) is built whole in a scratch folder beside its target and swapped in with
renames, so readers see the old folder or the new one, never a mix, and a failure leaves neither a
partial target nor the scratch folder behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SCRATCH_PREFIX", "move_into_place", "scratch_folder"]

#: Prefix of scratch folders: hidden, so Minari's listings (which skip dot-folders) never see them.
SCRATCH_PREFIX = ".sb3ot-tmp-"


@contextmanager
def scratch_folder(parent: Path) -> Iterator[Path]:
    """A new hidden empty folder in ``parent`` (created if needed), removed with all it holds on exit."""
    parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=parent))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def move_into_place(new: Path, final: Path, scratch: Path) -> None:
    """Rename folder ``new`` to ``final``, replacing what is there.

    An existing ``final`` is first renamed to ``scratch/.replaced`` (``scratch`` is deleted by its
    :func:`scratch_folder`, taking the old folder with it); if the second rename fails, the old folder
    is put back. Both renames stay on one file system (``scratch`` sits beside ``final``'s tree), so
    there is a sub-millisecond window without ``final``, never a partial one.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    replaced = scratch / ".replaced"  # dataset ids and folder names never start with a dot: no clash
    if final.exists():
        os.rename(final, replaced)
    try:
        os.rename(new, final)
    except BaseException:
        if replaced.exists():
            os.rename(replaced, final)
        raise

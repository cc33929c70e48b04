"""Files sb3-ot writes and reads: atomic writes, and torch checkpoints that never run code.

Every file sb3-ot writes goes through :func:`atomic_write`: the content is written to a hidden
temporary file beside the target and moved into place in one ``os.replace``, so a crash leaves the old
file or the new one, never half of one, and a failed write leaves no temporary file behind. A folder of
several files (a Minari dataset, an expert's resume checkpoint) is built whole in a
:func:`scratch_folder` beside its target and swapped in by :func:`move_into_place`, so readers see the
old folder or the new one, never a mix, and a failure leaves neither a partial target nor the scratch
folder behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "SCRATCH_PREFIX",
    "atomic_write",
    "load_checkpoint",
    "move_into_place",
    "save_checkpoint",
    "scratch_folder",
    "write_json",
    "write_text",
]


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it replaces ``path`` (parents are created).

    The temporary name keeps ``path``'s suffix (``.npz``, ``.png``, ``.zip``), since several writers
    (numpy, matplotlib, SB3) choose the format or add a suffix from it. On any error the temporary
    file is removed and the error propagates; ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_write(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _json_value(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists; anything else is an error naming its type."""
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return value.tolist()
    raise TypeError(f"write_json: cannot store a {type(value).__name__} as JSON")


def settings_key(data: Any) -> str:
    """8 hex digits of sha1 over ``data`` as sorted JSON: a stable cache-file name for a set of settings."""
    return hashlib.sha1(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:8]


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented JSON (sorted keys; numpy values as numbers and lists) atomically."""
    return write_text(path, json.dumps(data, indent=1, sort_keys=True, default=_json_value))


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """``torch.save`` of ``payload`` (tensors, numbers, strings, lists, tuples and dicts only), atomically."""
    import torch

    with atomic_write(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], *, func: str, what: str = "checkpoint", kind: str | None = None
) -> dict[str, Any]:
    """Load a file written by :func:`save_checkpoint` with ``torch.load(weights_only=True)``; with
    ``kind``, the payload's ``"kind"`` must be it (a file of another class is refused, naming both).

    Nothing in the file is executed: a file that carries pickled objects (code) is refused. Every
    failure is a ``ValueError`` (``FileNotFoundError`` for a missing file) naming ``func``, the path
    and what is wrong with it.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{func}: {what} {str(path)!r} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's note on the pickle protocol of a bad file
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):  # the file names a Python callable or class to rebuild: code, refused
            raise ValueError(
                f"{func}: {what} {str(path)!r} holds pickled Python objects, which could run code when "
                "loaded; refused (sb3-ot checkpoints hold tensors and plain values only)"
            ) from None
        raise ValueError(
            f"{func}: {str(path)!r} is not a readable {what} (corrupt or not a torch file)"
        ) from None
    except Exception as err:  # torch reports a truncated zip, a text file, ... each its own way
        raise ValueError(
            f"{func}: {str(path)!r} is not a readable {what} (truncated, corrupt or not a torch file: "
            f"{type(err).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{func}: {str(path)!r} holds a {type(data).__name__}, not an sb3-ot {what}")
    if kind is not None and data.get("kind") != kind:
        raise ValueError(f"{func}: {str(path)!r} holds a {data.get('kind')!r}, not a {kind}")
    return data


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

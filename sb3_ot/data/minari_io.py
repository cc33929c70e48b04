"""Read and write :class:`~sb3_ot.data.Trajectory` lists as local Minari datasets.

Writing goes through :func:`minari.create_dataset_from_buffers` with
:class:`minari.data_collector.EpisodeBuffer` (no jax needed, unlike Minari's ``DataCollector``), into a
hidden scratch folder inside the datasets root that is renamed into place once complete, so a crash
never leaves a half-written dataset. Reading never downloads: only local datasets are opened, and a
dataset whose files are missing, truncated or corrupt is reported as such, naming the file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import h5py
import minari
import numpy as np
from gymnasium.envs.registration import EnvSpec
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_dataset import parse_dataset_id
from minari.dataset.minari_storage import METADATA_FILE_NAME
from minari.namespace import create_namespace, list_local_namespaces
from minari.storage import get_dataset_path

from sb3_ot._args import check_int
from sb3_ot._files import move_into_place, scratch_folder, write_json
from sb3_ot.data.envs import ensure_registered
from sb3_ot.data.trajectory import Trajectory, require_actions

__all__ = ["BUILD_INFO", "load_trajectories", "open_dataset", "read_build_info", "save_minari"]

#: File beside a dataset's ``data/`` folder holding its ``build_info``.
BUILD_INFO = "sb3_ot_build.json"

_ROOT_ENV_VAR = "MINARI_DATASETS_PATH"
_HDF5_FILE = "main_data.hdf5"  # what Minari's HDF5 storage names its one data file
# Minari's advice for published datasets; noise for local ones. Pass the fields to record them.
_METADATA_ADVICE = (r"`\w+` is set to None", r"env_spec is None")
_PATH_PREFIXES = ("/", "~", "./", "../", ".\\", "..\\")


# ----------------------------------------------------------------------------- roots and ids
def datasets_root(data_path: str | os.PathLike[str] | None) -> Path:
    """The datasets root: ``data_path``, else ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``."""
    if data_path is None:
        return Path(get_dataset_path()).resolve()
    root = Path(data_path).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextmanager
def minari_root(root: Path) -> Iterator[None]:
    """Point Minari at ``root`` for the duration of the block (process-wide; not thread-safe)."""
    previous = os.environ.get(_ROOT_ENV_VAR)
    os.environ[_ROOT_ENV_VAR] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_ROOT_ENV_VAR, None)
        else:
            os.environ[_ROOT_ENV_VAR] = previous


def _check_dataset_id(dataset_id: str, func: str, hint: str = "") -> str | None:
    """Validate a Minari dataset id and return its namespace; ``hint`` is added to the error."""
    try:
        namespace, _, _ = parse_dataset_id(dataset_id)
    except (ValueError, TypeError) as err:  # minari raises TypeError when the version is missing
        raise ValueError(
            f"{func}: dataset_id must look like '(namespace/)name-v<version>', e.g. 'pendulum/expert-v0'; "
            f"got {dataset_id!r}{hint}"
        ) from err
    return namespace


def _looks_like_path(text: str) -> bool:
    """Whether a string names a folder rather than a dataset id: absolute, ``~``, ``./`` or ``../``."""
    return text.startswith(_PATH_PREFIXES) or text in (".", "..") or os.path.isabs(text)


def _infer_space(array: np.ndarray) -> gym.spaces.Box:
    """An unbounded Box for per-step arrays ``[N, *shape]`` (dtype kept; integer bounds = dtype range)."""
    if np.issubdtype(array.dtype, np.floating):
        low, high = -np.inf, np.inf
    elif array.dtype == np.bool_:
        return gym.spaces.Box(0, 1, shape=array.shape[1:], dtype=np.bool_)
    else:
        info = np.iinfo(array.dtype)
        low, high = info.min, info.max
    return gym.spaces.Box(low, high, shape=array.shape[1:], dtype=array.dtype)


def _infer_action_space(trajectories: Sequence[Trajectory]) -> gym.Space:
    """``Discrete(max + 1)`` for integer actions of shape ``[T]``, else an unbounded Box."""
    acts = [t.acts for t in trajectories if t.acts is not None]
    if acts[0].ndim == 1 and np.issubdtype(acts[0].dtype, np.integer):
        low = min(int(a.min()) for a in acts)
        if low >= 0:
            return gym.spaces.Discrete(max(int(a.max()) for a in acts) + 1)
    return _infer_space(acts[0])


def _obs_signature(traj: Trajectory) -> dict[str | None, tuple[int, ...]]:
    if isinstance(traj.obs, Mapping):
        return {key: value.shape[1:] for key, value in traj.obs.items()}
    return {None: traj.obs.shape[1:]}


def _check_against_space(shape: tuple[int, ...], space: gym.Space, what: str, index: int, func: str) -> None:
    if space.shape is not None and tuple(space.shape) != tuple(shape):
        raise ValueError(
            f"{func}: trajectories[{index}].{what} has per-step shape {shape} but the "
            f"{'observation' if what.startswith('obs') else 'action'}_space is {space} "
            f"(shape {space.shape})"
        )


def _check_trajectories(
    trajectories: Sequence[Trajectory], observation_space: gym.Space, action_space: gym.Space, func: str
) -> None:
    """Check every trajectory against the spaces (keys and per-step shapes)."""
    for i, traj in enumerate(trajectories):
        if isinstance(observation_space, gym.spaces.Dict):
            if not isinstance(traj.obs, Mapping) or set(traj.obs) != set(observation_space.spaces):
                got = sorted(traj.obs) if isinstance(traj.obs, Mapping) else f"an array {traj.obs.shape}"
                raise ValueError(
                    f"{func}: trajectories[{i}].obs must be a dict with keys "
                    f"{sorted(observation_space.spaces)} to match the observation_space; got {got}"
                )
            for key, sub in observation_space.spaces.items():
                _check_against_space(traj.obs[key].shape[1:], sub, f"obs[{key!r}]", i, func)
        else:
            if isinstance(traj.obs, Mapping):
                raise ValueError(
                    f"{func}: trajectories[{i}].obs is a dict with keys {sorted(traj.obs)} but the "
                    f"observation_space is {observation_space}"
                )
            _check_against_space(traj.obs.shape[1:], observation_space, "obs", i, func)
        assert traj.acts is not None
        _check_against_space(traj.acts.shape[1:], action_space, "acts", i, func)


def _to_buffer(traj: Trajectory) -> EpisodeBuffer:
    n = traj.n_steps
    terminations = np.zeros(n, dtype=np.bool_)
    truncations = np.zeros(n, dtype=np.bool_)
    terminations[-1] = traj.terminated
    truncations[-1] = not traj.terminated
    obs: Any = dict(traj.obs) if isinstance(traj.obs, Mapping) else traj.obs
    return EpisodeBuffer(
        observations=obs,
        actions=traj.acts,
        rewards=traj.rews if traj.rews is not None else np.zeros(n, dtype=np.float64),  # type: ignore[arg-type]
        terminations=terminations,  # type: ignore[arg-type]
        truncations=truncations,  # type: ignore[arg-type]
        infos=dict(traj.infos) if traj.infos else None,
    )


# ----------------------------------------------------------------------------- save
def save_minari(
    trajectories: Iterable[Trajectory],
    dataset_id: str,
    *,
    env: str | gym.Env | EnvSpec | None = None,
    observation_space: gym.Space | None = None,
    action_space: gym.Space | None = None,
    algorithm_name: str | None = None,
    author: str | None = None,
    ref_min_score: float | None = None,
    ref_max_score: float | None = None,
    eval_env: str | gym.Env | EnvSpec | None = None,
    description: str | None = None,
    overwrite: bool = False,
    data_path: str | os.PathLike[str] | None = None,
    build_info: Mapping[str, Any] | None = None,
) -> minari.MinariDataset:
    """Write trajectories as a local Minari dataset, atomically, without jax.

    Parameters
    ----------
    trajectories : Iterable[Trajectory]
        At least one trajectory. All must carry actions (Minari stores an action per step) and agree
        on observation keys and per-step shapes and on the per-step action shape.
        ``rews=None`` is stored as zeros (``float64``). ``infos`` are stored as Minari episode infos.
        Episode ``i`` gets ``terminations[T-1] = terminated`` and ``truncations[T-1] = not
        terminated``; all earlier flags are ``False``.
    dataset_id : str
        Minari id ``(namespace/)name-v<version>``, e.g. ``"pendulum/expert-v0"``.
    env : str, gymnasium.Env, EnvSpec or None
        The environment the data comes from; its spec is recorded (so
        ``dataset.recover_environment()`` works) and its spaces are used unless given explicitly.
    observation_space, action_space : gymnasium.Space or None
        Spaces to record. Without them and without ``env``, they are inferred from the data: an
        unbounded ``Box`` per array (``Dict`` of them for dict observations) keeping the array dtype,
        and ``Discrete(max + 1)`` for non-negative integer actions of shape ``[T]``.
    algorithm_name, author, description : str or None
        Metadata recorded in the dataset (Minari's warnings about leaving them out are silenced).
    ref_min_score, ref_max_score : float or None
        Reference scores for :func:`minari.get_normalized_score`. Minari records them only when an
        environment is known (``env`` or ``eval_env``) and, if only ``ref_max_score`` is given,
        estimates ``ref_min_score`` with 100 random-policy episodes.
    eval_env : str, gymnasium.Env, EnvSpec or None
        Environment meant for evaluation, if not ``env``.
    overwrite : bool
        Replace an existing dataset with the same id. Default ``False``: an existing id raises.
    data_path : str, PathLike or None
        Datasets root to write into. Default: ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``.
    build_info : Mapping or None
        JSON-serialisable facts about how the data was made (seed, policy, sizes), written to
        ``<root>/<dataset_id>/sb3_ot_build.json`` in the same atomic move as the dataset; read it back with
        :func:`read_build_info`.

    Returns
    -------
    minari.MinariDataset
        The written dataset, opened from its final location.

    Raises
    ------
    ValueError
        If ``trajectories`` is empty, holds a non-``Trajectory``, a trajectory without actions, or
        trajectories whose spaces disagree (the message names the index); if ``dataset_id`` is
        malformed or exists and ``overwrite`` is ``False``.

    Notes
    -----
    Atomicity: the dataset is built by Minari in a hidden scratch folder
    (``<root>/.sb3ot-tmp-*/``, invisible to :func:`minari.list_local_datasets`) and moved into
    place with one ``os.rename`` once complete; on any error the scratch folder is removed and
    nothing appears under ``<root>/<dataset_id>``. With ``overwrite=True`` the old dataset is first
    renamed into the scratch folder, then the new one renamed into place and the old one deleted;
    the two renames leave a sub-millisecond window without a dataset, never a partial one. The
    build sets ``MINARI_DATASETS_PATH`` temporarily (process-wide), so do not save from several
    threads at once. Observations and actions are stored losslessly (Minari's JPEG encoding of
    image spaces is turned off).
    """
    func = "save_minari"
    trajectories = require_actions(
        trajectories,
        func,
        "Minari datasets store an action for every step, so observation-only demonstrations cannot be "
        "saved to Minari (keep them as Trajectory lists, or attach actions explicitly)",
    )
    _check_one_space(trajectories, func)
    namespace = _check_dataset_id(dataset_id, func)
    root = datasets_root(data_path)
    final = root / dataset_id
    _check_target(final, dataset_id, overwrite, func)
    env, made_env = _resolve_env(env, func)
    try:
        observation_space, action_space = _resolve_spaces(trajectories, env, observation_space, action_space)
        _check_trajectories(trajectories, observation_space, action_space, func)
        buffers = [_to_buffer(t) for t in trajectories]
        metadata = {
            "env": env,
            "eval_env": eval_env,
            "algorithm_name": algorithm_name,
            "author": author,
            "observation_space": observation_space,
            "action_space": action_space,
            "ref_min_score": ref_min_score,
            "ref_max_score": ref_max_score,
            "description": description,
        }
        with scratch_folder(root) as scratch:
            _create_dataset(scratch, dataset_id, buffers, metadata)
            if build_info is not None:
                write_json(scratch / dataset_id / BUILD_INFO, build_info)
            if namespace is not None:  # last: a failed build must not leave a new namespace behind
                with minari_root(root):
                    if namespace not in list_local_namespaces():
                        create_namespace(namespace)
            move_into_place(scratch / dataset_id, final, scratch)
    finally:
        if made_env is not None:
            made_env.close()
    return minari.MinariDataset(final / "data")


def _check_one_space(trajectories: Sequence[Trajectory], func: str) -> None:
    """All trajectories share observation keys and per-step shapes, and the per-step action shape."""
    ref_obs, ref_acts = _obs_signature(trajectories[0]), trajectories[0].acts.shape[1:]  # type: ignore[union-attr]
    for i, traj in enumerate(trajectories[1:], start=1):
        obs_sig, act_shape = _obs_signature(traj), traj.acts.shape[1:]  # type: ignore[union-attr]
        if obs_sig != ref_obs:
            raise ValueError(
                f"{func}: trajectories[{i}].obs has keys/per-step shapes {obs_sig} but "
                f"trajectories[0].obs has {ref_obs}; all trajectories must share one observation space"
            )
        if act_shape != ref_acts:
            raise ValueError(
                f"{func}: trajectories[{i}].acts has per-step shape {act_shape} but trajectories[0].acts "
                f"has {ref_acts}; all trajectories must share one action space"
            )


def _check_target(final: Path, dataset_id: str, overwrite: bool, func: str) -> None:
    """Refuse to replace an existing dataset without ``overwrite``, and anything but a dataset ever."""
    if final.exists() and not overwrite:
        raise ValueError(
            f"{func}: dataset_id {dataset_id!r} already exists at {final}; pass overwrite=True to replace it"
        )
    if final.exists() and not (final / "data" / METADATA_FILE_NAME).is_file():
        raise ValueError(
            f"{func}: dataset_id {dataset_id!r} names {final}, which exists but is not a Minari dataset "
            "(a namespace folder?); refusing to replace it"
        )


def _resolve_env(env: str | gym.Env | EnvSpec | None, func: str) -> tuple[gym.Env | None, gym.Env | None]:
    """The env to record, and the one made here from an id or spec (to be closed), if any."""
    if isinstance(env, str):
        ensure_registered(env, func=func)
    if isinstance(env, str | EnvSpec):
        made = gym.make(env)
        return made, made
    if env is not None and not isinstance(env, gym.Env):
        raise ValueError(
            f"{func}: env must be a gymnasium Env, an env id or an EnvSpec; got {type(env).__name__}"
        )
    return env, None


def _resolve_spaces(
    trajectories: Sequence[Trajectory],
    env: gym.Env | None,
    observation_space: gym.Space | None,
    action_space: gym.Space | None,
) -> tuple[gym.Space, gym.Space]:
    """The given spaces, else the env's, else spaces inferred from the data."""
    if observation_space is None:
        if env is not None:
            observation_space = env.observation_space
        elif trajectories[0].is_dict_obs:
            observation_space = gym.spaces.Dict(
                {k: _infer_space(v) for k, v in trajectories[0].obs.items()}  # type: ignore[union-attr]
            )
        else:
            observation_space = _infer_space(trajectories[0].obs)  # type: ignore[arg-type]
    if action_space is None:
        action_space = env.action_space if env is not None else _infer_action_space(trajectories)
    return observation_space, action_space


def _create_dataset(
    scratch: Path, dataset_id: str, buffers: list[EpisodeBuffer], metadata: Mapping[str, Any]
) -> None:
    """Minari writes the dataset to ``scratch/<dataset_id>``, losslessly (no JPEG encoding)."""
    with minari_root(scratch), warnings.catch_warnings():
        for message in _METADATA_ADVICE:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        minari.create_dataset_from_buffers(dataset_id, buffers, jpeg_encoding=False, **metadata)


# ----------------------------------------------------------------------------- open
def open_dataset(
    dataset: str | os.PathLike[str] | minari.MinariDataset,
    data_path: str | os.PathLike[str] | None = None,
    *,
    func: str = "load_trajectories",
) -> minari.MinariDataset:
    """Open a local Minari dataset given as :func:`load_trajectories` takes it, checking its files.

    ``func`` names the function the user called in errors.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist, is not a Minari dataset, or the id is not a local dataset.
    ValueError
        For a malformed id, ``data_path`` with a ``MinariDataset``, or a dataset whose metadata or
        data file is truncated or corrupt (the message names the dataset and the file).
    """
    if isinstance(dataset, minari.MinariDataset):
        if data_path is not None:
            raise ValueError(
                f"{func}: data_path applies to dataset ids only; got a MinariDataset and data_path"
            )
        data_file = _data_file(dataset)
        if data_file is not None:
            _check_hdf5(data_file, repr(dataset.id), func)
        return dataset
    if not isinstance(dataset, str | os.PathLike):
        raise ValueError(
            f"{func}: dataset must be a Minari dataset id, a dataset folder or a MinariDataset; "
            f"got {type(dataset).__name__}"
        )
    path = Path(dataset).expanduser()
    if isinstance(dataset, os.PathLike) or _looks_like_path(dataset) or (path.is_dir() and data_path is None):
        return _open_folder(path, func)
    hint = "" if path.exists() else f", and no folder {str(path)!r} exists"
    _check_dataset_id(dataset, func, hint)
    root = datasets_root(data_path)
    data_dir = root / dataset / "data"
    if not (data_dir / METADATA_FILE_NAME).is_file():
        with minari_root(root), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            local = sorted(minari.list_local_datasets())
        raise FileNotFoundError(
            f"{func}: dataset {dataset!r} is not a local Minari dataset (looked in {data_dir}); sb3-ot never "
            "downloads datasets. Make one with sb3_ot.data.save_minari(trajectories, dataset_id), or point "
            f"data_path / $MINARI_DATASETS_PATH at the folder holding it. Local datasets in {root}: "
            f"{local or 'none'}"
        )
    return _read_dataset(data_dir, repr(dataset), func)


def _open_folder(path: Path, func: str) -> minari.MinariDataset:
    """The dataset in folder ``path`` (``<root>/<id>`` or its ``data`` subfolder)."""
    for candidate in (path / "data", path):
        if (candidate / METADATA_FILE_NAME).is_file():
            return _read_dataset(candidate, f"folder {str(path)!r}", func)
    if not path.exists():
        raise FileNotFoundError(f"{func}: dataset folder {str(path)!r} not found")
    raise FileNotFoundError(
        f"{func}: dataset {str(path)!r} is not a Minari dataset folder (no data/{METADATA_FILE_NAME})"
    )


def _read_dataset(data_dir: Path, label: str, func: str) -> minari.MinariDataset:
    """Open ``data_dir``, turning a missing or corrupt metadata or data file into an error naming it."""
    metadata = data_dir / METADATA_FILE_NAME
    try:
        raw = json.loads(metadata.read_text())
    except ValueError as err:  # JSONDecodeError and UnicodeDecodeError both are
        raise ValueError(
            f"{func}: dataset {label}: its metadata file {str(metadata)!r} is corrupt (not valid JSON: {err})"
        ) from err
    if isinstance(raw, dict) and isinstance(raw.get("dataset_id"), str):
        label = repr(raw["dataset_id"])
    if isinstance(raw, dict) and raw.get("data_format", "hdf5") == "hdf5":
        _check_hdf5(data_dir / _HDF5_FILE, label, func)
    try:
        return minari.MinariDataset(data_dir)
    except (AssertionError, AttributeError, KeyError, TypeError, ValueError) as err:
        detail = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ValueError(
            f"{func}: dataset {label}: its metadata file {str(metadata)!r} is corrupt or incomplete ({detail})"
        ) from err


def _data_file(ds: minari.MinariDataset) -> Path | None:
    """The HDF5 file of a dataset in Minari's HDF5 format (``None`` for other formats)."""
    if ds.storage.metadata.get("data_format", "hdf5") != "hdf5":
        return None
    return Path(ds.spec.data_path) / _HDF5_FILE


def _check_hdf5(path: Path, label: str, func: str) -> None:
    """Open the HDF5 file once, so a missing, truncated or overwritten one is refused here, by name."""
    if not path.is_file():
        raise FileNotFoundError(f"{func}: dataset {label}: its data file {str(path)!r} is missing")
    try:
        with h5py.File(path, "r"):
            pass
    except OSError as err:
        raise ValueError(_damaged(func, label, path, err)) from err


def _damaged(func: str, label: str, path: Path | str, err: Exception) -> str:
    return (
        f"{func}: dataset {label}: its data file {str(path)!r} is truncated or corrupt (not a readable "
        f"HDF5 file: {err}); rebuild or re-copy the dataset"
    )


@contextmanager
def damaged_file_errors(ds: minari.MinariDataset, func: str) -> Iterator[None]:
    """Report the errors h5py raises reading a damaged file as a ValueError naming the dataset and file."""
    try:
        yield
    except (OSError, KeyError) as err:
        raise ValueError(_damaged(func, repr(ds.id), _data_file(ds) or ds.spec.data_path, err)) from err


# ----------------------------------------------------------------------------- load
def read_build_info(
    dataset: str | os.PathLike[str] | minari.MinariDataset, data_path: str | os.PathLike[str] | None = None
) -> dict[str, Any] | None:
    """The ``build_info`` saved with a local dataset (``None`` if it has none).

    Raises as :func:`load_trajectories` for a missing or damaged dataset, and ``ValueError`` if the
    build info file is not valid JSON.
    """
    return build_info_of(open_dataset(dataset, data_path, func="read_build_info"), func="read_build_info")


def build_info_of(ds: minari.MinariDataset, *, func: str) -> dict[str, Any] | None:
    """The ``build_info`` of an open dataset (``None`` if it has none); ``func`` names the caller."""
    path = Path(ds.spec.data_path).parent / BUILD_INFO
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(
            f"{func}: dataset {ds.id!r}: its build info {str(path)!r} is corrupt (not valid JSON: {err})"
        ) from err


def _flatten_infos(infos: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in (infos or {}).items():
        if isinstance(value, Mapping):
            flat.update(_flatten_infos(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _episode_to_trajectory(episode: Any, dataset_id: str) -> Trajectory:
    where = f"load_trajectories: episode {episode.id} of {dataset_id!r}"
    if isinstance(episode.observations, tuple) or isinstance(episode.actions, tuple | Mapping):
        raise ValueError(f"{where}: Tuple observation spaces and Tuple/Dict action spaces are not supported")
    n_steps = len(episode.rewards)
    infos: dict[str, np.ndarray] = {}
    for key, value in _flatten_infos(episode.infos).items():
        value = np.asarray(value)
        if value.ndim >= 1 and value.shape[0] == n_steps:
            infos[key] = value
        elif value.ndim >= 1 and value.shape[0] == n_steps + 1:
            infos[key] = value[1:]  # Minari's DataCollector stores the reset info first
        else:
            warnings.warn(
                f"{where}: info {key!r} has shape {value.shape}, neither [T] nor [T+1] with T = {n_steps}; "
                "dropped",
                stacklevel=3,
            )
    try:
        return Trajectory(
            obs=episode.observations,
            acts=episode.actions,
            rews=episode.rewards,
            terminated=bool(episode.terminations[-1]) if n_steps else False,
            infos=infos,
        )
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from err


def load_trajectories(
    dataset: str | os.PathLike[str] | minari.MinariDataset,
    *,
    episode_indices: Iterable[int] | None = None,
    data_path: str | os.PathLike[str] | None = None,
) -> list[Trajectory]:
    """Read episodes of a local Minari dataset as trajectories (all into memory).

    Parameters
    ----------
    dataset : str, PathLike or minari.MinariDataset
        A local dataset id (``"pendulum/expert-v0"``, looked up under ``data_path``), a dataset
        folder (``<root>/<id>`` or its ``data`` subfolder; a ``PathLike`` is always a folder, a
        ``str`` is one if it starts with ``/``, ``~``, ``./`` or ``../``, or if such a folder exists
        and ``data_path`` is not given), or an open :class:`minari.MinariDataset`. Nothing is ever
        downloaded.
    episode_indices : Iterable[int] or None
        Minari episode ids to read, in this order (as in ``MinariDataset.iterate_episodes``).
        Default: all of the dataset's episodes.
    data_path : str, PathLike or None
        Datasets root for an id. Default: ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``.

    Returns
    -------
    list[Trajectory]
        One per episode: ``obs`` ``[T+1, ...]`` (a dict for ``Dict`` spaces), ``acts`` ``[T, ...]``,
        ``rews`` ``[T]``, ``terminated`` = the episode's last termination flag, and its infos
        flattened to ``"a/b"`` keys. Infos of length ``T + 1`` (``DataCollector`` records the reset
        info first) lose their first entry; infos of other lengths are dropped with a warning.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist, or the id or folder is not a local Minari dataset.
    ValueError
        If the id is malformed; if the dataset's metadata or data file is truncated or corrupt (the
        message names the dataset and the file); if ``episode_indices`` holds non-integers or names
        episodes the dataset does not hold; if the dataset uses Tuple spaces; or if an episode fails
        :class:`Trajectory` validation (the message names it).
    """
    func = "load_trajectories"
    ds = open_dataset(dataset, data_path, func=func)
    available = [int(i) for i in ds.episode_indices]
    indices = available if episode_indices is None else _episode_indices(episode_indices, available, ds.id)
    with damaged_file_errors(ds, func):
        return [_episode_to_trajectory(ep, ds.id) for ep in ds.iterate_episodes(indices)]


def _episode_indices(episode_indices: Iterable[int], available: list[int], dataset_id: str) -> list[int]:
    """``episode_indices`` as a list of ints (numpy integers are fine) that are episodes of the dataset."""
    func = "load_trajectories"
    if isinstance(episode_indices, str | bytes) or not isinstance(episode_indices, Iterable):
        raise ValueError(
            f"{func}: episode_indices must be an iterable of ints (e.g. a list or numpy array); "
            f"got {type(episode_indices).__name__}"
        )
    indices = [check_int(i, f"episode_indices[{k}]", func, minimum=0) for k, i in enumerate(episode_indices)]
    known = set(available)
    missing = [i for i in indices if i not in known]
    if missing:
        raise ValueError(
            f"{func}: episode_indices {missing} are not episodes of {dataset_id!r}; "
            f"it holds {len(known)} episodes, ids in [{min(known, default=None)}, {max(known, default=None)}]"
        )
    return indices

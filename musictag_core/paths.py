"""Folders musictag owns: cache, runs, shipped assets, and the data roots.

Each can be moved with an environment variable, so tests, CI and served
instances keep their files apart:

* ``MUSICTAG_CACHE``: feature store, demo corpus, embeddings (default ``~/.cache/musictag``).
* ``MUSICTAG_RUNS``: training runs (default ``./runs`` in the working directory).
* ``MUSICTAG_INDEXES``: similarity indexes, state rather than cache (default ``indexes`` beside the runs folder).
* ``MUSICTAG_DATA``: ``os.pathsep``-separated folders under which typed dataset paths are accepted
  (default: the cache folder, the working directory and ``../shared/data`` when it exists).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ParameterError

__all__ = ["assets_dir", "cache_dir", "data_roots", "indexes_dir", "resolve_data_path", "runs_dir", "repo_root"]


def repo_root() -> Path:
    """The folder holding ``musictag_core/`` (the project checkout)."""
    return Path(__file__).resolve().parents[1]


def assets_dir() -> Path:
    """Shipped assets (pretrained model weights and their cards), inside the installed package.

    ``musictag_core/_assets`` is the package data of the wheel; in a checkout it
    is a link to the top-level ``assets/`` folder.
    """
    return Path(__file__).resolve().parent / "_assets"


def cache_dir() -> Path:
    """Writable cache folder, created on first use."""
    root = os.environ.get("MUSICTAG_CACHE") or str(Path.home() / ".cache" / "musictag")
    path = Path(root).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Folder of training runs (not created here)."""
    return Path(os.environ.get("MUSICTAG_RUNS") or "runs").expanduser().resolve()


def indexes_dir() -> Path:
    """Folder of named similarity indexes (not created here): ``$MUSICTAG_INDEXES``, else ``indexes`` beside the runs folder."""
    env = os.environ.get("MUSICTAG_INDEXES")
    if env:
        return Path(env).expanduser().resolve()
    return runs_dir().parent / "indexes"


def data_roots() -> list[Path]:
    """Folders under which user-typed dataset paths are accepted."""
    env = os.environ.get("MUSICTAG_DATA")
    if env:
        return [Path(p).expanduser().resolve() for p in env.split(os.pathsep) if p]
    roots = [cache_dir(), Path.cwd().resolve()]
    shared = repo_root().parent / "shared" / "data"
    if shared.is_dir():
        roots.append(shared.resolve())
    return roots


def resolve_data_path(
    text: str | os.PathLike, *, roots: list[Path] | None = None, must_exist: bool = True
) -> Path:
    """Resolve a user-typed path and accept it only under a data root.

    The path is expanded (``~``) and resolved (symbolic links and ``..``
    followed), then checked against :func:`data_roots`, so a link or a ``..``
    cannot reach outside them. Every path a page or a user types goes through
    this one function.

    Parameters
    ----------
    text : str or path-like
        A folder or file typed by the user (relative paths are relative to the
        working directory).
    roots : list of Path or None
        Allowed folders (default :func:`data_roots`).
    must_exist : bool
        Also require the path to exist.

    Returns
    -------
    path : Path
        The resolved path.

    Raises
    ------
    ParameterError
        If the text is empty or holds a NUL character, the path cannot be
        resolved, lies outside every root, or (with ``must_exist``) does not exist.
    """
    raw = os.fspath(text).strip() if isinstance(text, (str, os.PathLike)) else None
    if not raw:
        raise ParameterError(f"a folder or file path is needed, got {text!r}")
    if "\x00" in raw:
        raise ParameterError(f"path {raw!r} contains a NUL character")
    allowed = [Path(r).expanduser().resolve() for r in (data_roots() if roots is None else roots)]
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        path = path.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops, over-long names
        raise ParameterError(f"path {raw!r} cannot be resolved ({exc})") from None
    if not any(path == root or path.is_relative_to(root) for root in allowed):
        listed = ", ".join(str(r) for r in allowed) or "(none)"
        raise ParameterError(
            f"path {raw!r} resolves to {str(path)!r}, which is outside the allowed data folders "
            f"({listed}); move the data under one of them or add its folder to MUSICTAG_DATA "
            f"(folders separated by {os.pathsep!r})"
        )
    if must_exist and not path.exists():
        raise ParameterError(f"path {str(path)!r} does not exist; give an existing folder or CSV file")
    return path

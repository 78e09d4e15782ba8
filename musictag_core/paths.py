"""Folders musictag owns: cache, runs, shipped assets, and the data roots.

Each can be moved with an environment variable, so tests, CI and served
instances keep their files apart:

* ``MUSICTAG_CACHE``: feature store, demo corpus, embeddings (default ``~/.cache/musictag``).
* ``MUSICTAG_RUNS``: training runs (default ``./runs`` in the working directory).
* ``MUSICTAG_DATA``: ``os.pathsep``-separated folders under which typed dataset paths are accepted
  (default: the cache folder, the working directory and ``../shared/data`` when it exists).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["assets_dir", "cache_dir", "data_roots", "runs_dir", "repo_root"]


def repo_root() -> Path:
    """The folder holding ``musictag_core/`` (the project checkout)."""
    return Path(__file__).resolve().parents[1]


def assets_dir() -> Path:
    """Shipped assets (pretrained model weights, images)."""
    return repo_root() / "assets"


def cache_dir() -> Path:
    """Writable cache folder, created on first use."""
    root = os.environ.get("MUSICTAG_CACHE") or str(Path.home() / ".cache" / "musictag")
    path = Path(root).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Folder of training runs (not created here)."""
    return Path(os.environ.get("MUSICTAG_RUNS") or "runs").expanduser().resolve()


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

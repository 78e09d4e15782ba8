"""Folders musictag owns, and the containment check on typed dataset paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from musictag_core.errors import ParameterError
from musictag_core.paths import cache_dir, data_roots, resolve_data_path, runs_dir


@pytest.fixture
def tree(tmp_path) -> tuple[Path, Path]:
    """An allowed root holding ``music/a.wav`` and a sibling folder outside it."""
    root = tmp_path / "root"
    (root / "music").mkdir(parents=True)
    (root / "music" / "a.wav").write_bytes(b"RIFF")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("x\n")
    return root, outside


def test_paths_inside_a_root_resolve(tree):
    root, _ = tree
    assert resolve_data_path(str(root / "music"), roots=[root]) == (root / "music").resolve()
    assert resolve_data_path(root / "music" / "a.wav", roots=[root]) == (root / "music" / "a.wav").resolve()
    assert resolve_data_path(f"  {root}  ", roots=[root]) == root.resolve()  # the root itself, trimmed
    # a '..' that stays inside is fine
    assert resolve_data_path(str(root / "music" / ".." / "music"), roots=[root]) == (root / "music").resolve()


@pytest.mark.parametrize("make", [
    lambda root, out: str(out / "secret.csv"),
    lambda root, out: str(root / ".." / "outside"),
    lambda root, out: "/etc",
    lambda root, out: str(root) + "-sibling",  # a prefix of the root is not inside it
])
def test_paths_outside_every_root_are_refused(tree, make):
    root, outside = tree
    (root.parent / "root-sibling").mkdir(exist_ok=True)
    with pytest.raises(ParameterError, match="outside the allowed data folders"):
        resolve_data_path(make(root, outside), roots=[root])


def test_symlink_out_of_a_root_is_refused(tree):
    root, outside = tree
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ParameterError, match="outside"):
        resolve_data_path(str(root / "link" / "secret.csv"), roots=[root])


def test_relative_paths_are_taken_from_the_working_directory(tree, monkeypatch):
    root, _ = tree
    monkeypatch.chdir(root)
    assert resolve_data_path("music", roots=[root]) == (root / "music").resolve()


@pytest.mark.parametrize("text", ["", "   ", None, "a\x00b"])
def test_empty_or_malformed_text_is_refused(text, tree):
    root, _ = tree
    with pytest.raises(ParameterError):
        resolve_data_path(text, roots=[root])


def test_missing_path_inside_a_root_says_it_does_not_exist(tree):
    root, _ = tree
    with pytest.raises(ParameterError, match="does not exist"):
        resolve_data_path(str(root / "nope"), roots=[root])


def test_default_roots_come_from_musictag_data(tree, monkeypatch):
    root, outside = tree
    monkeypatch.setenv("MUSICTAG_DATA", os.pathsep.join([str(root), str(outside)]))
    assert data_roots() == [root.resolve(), outside.resolve()]
    assert resolve_data_path(str(outside / "secret.csv")) == (outside / "secret.csv").resolve()
    monkeypatch.setenv("MUSICTAG_DATA", str(root))
    with pytest.raises(ParameterError, match=str(root.resolve())):
        resolve_data_path(str(outside))


def test_cache_and_runs_folders_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("MUSICTAG_RUNS", str(tmp_path / "r"))
    assert cache_dir() == (tmp_path / "c").resolve() and cache_dir().is_dir()
    assert runs_dir() == (tmp_path / "r").resolve() and not runs_dir().exists()


def test_resolve_data_path_containment(tmp_path):  # moved from test_uploads (resolve_user_path was an alias)
    root = tmp_path / "data"
    (root / "genres").mkdir(parents=True)
    outside = tmp_path / "secret"
    outside.mkdir()
    assert resolve_data_path(str(root / "genres"), roots=[root]) == (root / "genres").resolve()
    assert resolve_data_path(str(root / "genres" / ".." / "genres"), roots=[root]) == (root / "genres").resolve()
    for bad in [str(outside), str(root / ".." / "secret"), "/etc/passwd", "/"]:
        with pytest.raises(ParameterError, match="outside the allowed data folders.*MUSICTAG_DATA"):
            resolve_data_path(bad, roots=[root])
    (root / "link").symlink_to(outside)
    with pytest.raises(ParameterError, match="outside"):
        resolve_data_path(str(root / "link"), roots=[root])
    with pytest.raises(ParameterError, match="does not exist"):
        resolve_data_path(str(root / "nope"), roots=[root])
    assert resolve_data_path(str(root / "nope"), roots=[root], must_exist=False) == (root / "nope").resolve()
    for bad in ["", "   ", "a\x00b", None]:
        with pytest.raises(ParameterError):
            resolve_data_path(bad, roots=[root])


def test_resolve_data_path_default_roots_come_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MUSICTAG_DATA", str(tmp_path))
    assert resolve_data_path(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(ParameterError, match="outside"):
        resolve_data_path(str(tmp_path.parent))

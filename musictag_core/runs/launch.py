"""Starting a run safely: refuse an unwritable runs folder or a full disk, and leave no half-written run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import TrainingError
from .folder import Run, runs_root

__all__ = ["MIN_FREE_BYTES", "check_runs_writable", "launch_run"]

#: Free space below which :func:`check_runs_writable` refuses to start a run.
MIN_FREE_BYTES = 50 * 2**20


def check_runs_writable(runs_dir: str | os.PathLike | None = None, *, min_free_bytes: int = MIN_FREE_BYTES) -> Path:
    """Make sure a run can be written: the folder exists (or is created), accepts a file, has free space.

    Parameters
    ----------
    runs_dir : path-like or None
        Default :func:`musictag_core.paths.runs_dir`.
    min_free_bytes : int
        Refuse when less space is free on its disk.

    Returns
    -------
    Path
        The runs folder.

    Raises
    ------
    TrainingError
        Naming the folder, the reason and what to do.
    """
    root = runs_root(runs_dir)
    hint = "set MUSICTAG_RUNS to a writable folder or fix its permissions"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrainingError(f"the runs folder {str(root)!r} cannot be created ({exc.strerror or exc}); {hint}") from None
    probe = root / f".write-probe-{os.getpid()}-{os.urandom(3).hex()}"
    try:
        with open(probe, "wb") as fh:
            fh.write(b"\0" * 4096)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise TrainingError(f"the runs folder {str(root)!r} is not writable ({exc.strerror or exc}); {hint}") from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass
    free = shutil.disk_usage(root).free
    if free < min_free_bytes:
        raise TrainingError(
            f"only {free / 2**20:.0f} MB free on the disk of the runs folder {str(root)!r}; a run needs at least "
            f"{min_free_bytes / 2**20:.0f} MB: free some space or set MUSICTAG_RUNS to another disk"
        )
    return root


def launch_run(
    config: dict[str, Any], *, model: str, runs_dir: str | os.PathLike | None = None, python: str | None = None,
    check: bool = True,
    keep_dataset_file: bool = False,
) -> Run:
    """Create a run folder and start its worker; with ``check``, :func:`check_runs_writable` first.

    A failure while writing the run folder (disk full, permissions) removes the
    half-written folder and raises :class:`TrainingError`; no run is left behind.

    Parameters
    ----------
    config : dict
        The run's settings (``RunConfig.to_dict()``).
    model : str
    runs_dir : path-like, optional
    python : str, optional
        Interpreter for the worker (default ``sys.executable``).
    check : bool
        Check the folder is writable and has space first.
    keep_dataset_file : bool
        When ``config["dataset"]`` is a file (an uploaded feature table), copy it into
        the run (:meth:`Run.attach`) and train on the copy.

    Returns
    -------
    Run
        Queued; it becomes ``running`` once no other run trains.
    """
    root = check_runs_writable(runs_dir) if check else runs_root(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in root.iterdir()}
    try:
        run = Run.create(config, model=model, runs_dir=root)
        dataset = config.get("dataset")
        if keep_dataset_file and isinstance(dataset, str) and Path(dataset).is_file():
            run.update_config(dataset=str(run.attach(dataset)))
        run.launch(python=python)
    except OSError as exc:
        for p in root.iterdir():
            # only folders this call made and whose worker never started
            if p.name not in before and p.is_dir() and Run(p).worker()[0] is None:
                shutil.rmtree(p, ignore_errors=True)
        raise TrainingError(
            f"could not start the run in {str(root)!r} ({exc.strerror or exc}); nothing was kept. "
            "Check free space and permissions of the runs folder (MUSICTAG_RUNS)"
        ) from None
    return run

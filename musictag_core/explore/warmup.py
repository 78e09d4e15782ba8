"""UMAP's lazy import and its warm-up.

UMAP is imported lazily (:func:`import_umap`: importing it imports TensorFlow,
several seconds) and its first fit in a process compiles numba code (tens of
seconds). :func:`warm_up_umap` pays that cost up front; :func:`start_umap_warmup`
runs it once per process in a low-priority background thread and returns its
state (:class:`UmapWarmup`: ``fraction``, ``message``, ``error``, ``done``) for
a page to show. Every UMAP fit holds :data:`UMAP_LOCK`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from .checks import ProgressCallback

__all__ = [
    "UMAP_LOCK",
    "UmapWarmup",
    "import_umap",
    "mark_umap_warm",
    "quiet_fit",
    "start_umap_warmup",
    "umap_is_warm",
    "warm_up_umap",
]


#: Held by every UMAP fit: numba's first compilation must not run twice at once.
UMAP_LOCK = threading.Lock()
_UMAP_WARM = False


def import_umap():
    """Import umap (and with it TensorFlow) once, quietly; return the module."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import umap
    return umap


def umap_is_warm() -> bool:
    """Whether a UMAP fit already ran in this process (numba code compiled)."""
    return _UMAP_WARM


def mark_umap_warm() -> None:
    """Record that a UMAP fit ran in this process (call it holding :data:`UMAP_LOCK`)."""
    global _UMAP_WARM
    _UMAP_WARM = True


def warm_up_umap(*, sizes: Sequence[int] = (300, 4200), progress: ProgressCallback | None = None) -> float:
    """Import UMAP and compile its numba code by fitting throw-away data.

    UMAP compiles different code for small inputs (exact neighbours) and for
    inputs above 4096 points (approximate NN-descent), so the default fits one
    of each with few epochs. Safe to call from a background thread.

    Parameters
    ----------
    sizes : sequence of int
        Numbers of points of the throw-away fits.
    progress : callable or None
        ``progress(fraction, message)``.

    Returns
    -------
    float
        Seconds spent.
    """
    global _UMAP_WARM
    t0 = time.perf_counter()
    if progress:
        progress(0.0, "importing UMAP")
    umap = import_umap()
    rng = np.random.default_rng(0)
    with UMAP_LOCK:
        for i, n in enumerate(sizes):
            if progress:
                progress((i + 0.5) / (len(sizes) + 0.5), f"compiling UMAP on {n} points")
            centers = rng.normal(scale=5.0, size=(5, 8))
            X = (centers[rng.integers(0, 5, int(n))] + rng.normal(size=(int(n), 8))).astype(np.float32)
            quiet_fit(umap.UMAP(n_neighbors=10, n_epochs=10, random_state=0, n_jobs=1), X)
        _UMAP_WARM = True
    if progress:
        progress(1.0, "UMAP ready")
    return time.perf_counter() - t0


class UmapWarmup:
    """The state of a background UMAP warm-up (:func:`start_umap_warmup`), readable from any thread.

    Attributes
    ----------
    fraction : float
        Progress in [0, 1].
    message : str
        What the warm-up is doing, in words.
    error : str or None
        ``"<Exception>: <message>"`` when the warm-up failed (UMAP fits then compile on demand).
    seconds : float or None
        Seconds the warm-up took, once it succeeded.
    """

    def __init__(self, *, sizes: Sequence[int] = (300,), nice: int = 10) -> None:
        self.fraction = 0.0
        self.message = "starting"
        self.error: str | None = None
        self.seconds: float | None = None
        self._sizes = tuple(int(n) for n in sizes)
        self._nice = int(nice)
        self._finished = threading.Event()
        self._thread = threading.Thread(target=self._work, name="musictag-umap-warmup", daemon=True)

    def start(self) -> UmapWarmup:
        """Start the background thread (once) and return ``self``."""
        if not self._thread.is_alive() and not self._finished.is_set():
            self._thread.start()
        return self

    def _report(self, fraction: float, message: str) -> None:
        self.fraction, self.message = float(fraction), str(message)

    def _work(self) -> None:
        try:  # Linux: lower this thread's priority only, so requests in other threads come first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        except (AttributeError, OSError):
            pass
        try:
            self.seconds = warm_up_umap(sizes=self._sizes, progress=self._report)
        except Exception as exc:  # noqa: BLE001 - reported through .error; fits then compile on demand
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._finished.set()

    @property
    def done(self) -> bool:
        """True once UMAP is compiled (here or by a fit) or the warm-up ended, with or without an error."""
        return self._finished.is_set() or umap_is_warm()

    def wait(self, *, timeout: float | None = None, progress: ProgressCallback | None = None,
             interval: float = 0.5) -> bool:
        """Block until :attr:`done`, reporting progress while waiting.

        Parameters
        ----------
        timeout : float or None
            Give up after this many seconds (``None``: wait as long as it takes).
        progress : callable or None
            ``progress(fraction, message)`` every ``interval`` seconds; the message
            says what the warm-up does and how long this call has waited.
        interval : float
            Seconds between progress reports.

        Returns
        -------
        bool
            :attr:`done` when the call returns.
        """
        t0 = time.monotonic()
        while not self.done and self._thread.is_alive():
            waited = time.monotonic() - t0
            if timeout is not None and waited >= timeout:
                break
            if progress:
                progress(self.fraction, f"{self.message}, {waited:.0f} s")
            step = interval if timeout is None else min(interval, max(timeout - waited, 0.0))
            self._finished.wait(step)
        return self.done


_WARMUP: UmapWarmup | None = None
_WARMUP_LOCK = threading.Lock()


def start_umap_warmup(*, sizes: Sequence[int] = (300,), nice: int = 10) -> UmapWarmup:
    """Compile UMAP in a background thread, once per process; return the warm-up's state.

    Later calls return the same :class:`UmapWarmup` (their arguments are then ignored).

    Parameters
    ----------
    sizes : sequence of int
        Throw-away fit sizes (:func:`warm_up_umap`). 300 points compiles the
        exact-neighbour path small datasets use; inputs over 4096 points compile
        NN-descent on their first fit.
    nice : int
        Priority increment of the thread (Linux), so other work comes first.

    Returns
    -------
    UmapWarmup
    """
    global _WARMUP
    with _WARMUP_LOCK:
        if _WARMUP is None:
            _WARMUP = UmapWarmup(sizes=sizes, nice=nice).start()
        return _WARMUP


def quiet_fit(est: Any, X: np.ndarray) -> np.ndarray:
    """``est.fit_transform(X)`` with warnings silenced (UMAP and numba are chatty)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit_transform(X)

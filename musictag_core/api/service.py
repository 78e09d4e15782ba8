"""What one API process holds: settings, the worker pool, the jobs, and the loaded models.

The functions here run in the worker pool (never on the event loop); they call the
core and build the same JSON the command line prints.
"""

from __future__ import annotations

import io
import logging
import re
import threading
import time
from typing import Any

import numpy as np

from ..errors import AudioError, ParameterError
from .errors import ApiError
from .jobs import JobStore
from .pool import WorkerPool
from .settings import ApiSettings

__all__ = ["Service", "Upload", "batch_outcome"]

log = logging.getLogger("musictag.api")

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


class Upload:
    """An uploaded file, read in a worker thread: its (safe) name and a binary file object."""

    def __init__(self, name: str, file: Any, size: int | None) -> None:
        self.name = name
        self.file = file
        self.size = size

    def buffer(self) -> io.BytesIO:
        """The bytes as a ``BytesIO`` named after the upload (core errors then name the file)."""
        self.file.seek(0)
        buf = io.BytesIO(self.file.read())
        buf.name = self.name
        return buf


class Service:
    """The state of one API process.

    Parameters
    ----------
    settings : ApiSettings
    """

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.pool = WorkerPool(workers=settings.workers, max_queue=settings.max_queue)
        self.jobs = JobStore(pool=self.pool, ttl_s=settings.job_ttl_s, max_jobs=settings.max_jobs)
        self.loaded: list[str] = []
        self._models: tuple[float, dict[str, Any]] = (0.0, {})
        self._models_lock = threading.Lock()

    # -- models -------------------------------------------------------------------
    def model_entries(self, *, max_age_s: float = 2.0) -> dict[str, Any]:
        """Name -> ``ModelEntry`` of every model :func:`list_models` offers (re-listed every ``max_age_s``)."""
        from ..models.loading import list_models

        with self._models_lock:
            stamp, entries = self._models
            if time.monotonic() - stamp > max_age_s:
                entries = {e.name: e for e in list_models(runs_dir=self.settings.runs_dir)}
                self._models = (time.monotonic(), entries)
            return entries

    def model_entry(self, name: str):  # noqa: ANN201 - ModelEntry
        """The entry of model ``name`` (a name only: never a server path).

        Raises
        ------
        ApiError
            404 naming the available models.
        """
        valid = isinstance(name, str) and bool(_MODEL_NAME.match(name))
        entries = self.model_entries()
        if valid and name not in entries:
            entries = self.model_entries(max_age_s=0.0)  # a run may have just finished
        if not valid or name not in entries:
            names = ", ".join(entries) or "none"
            raise ApiError(404, "unknown model", f"unknown model {name!r}; available models: {names} (GET /v1/models)")
        return entries[name]

    def tagger(self, name: str):  # noqa: ANN201 - Tagger
        """The loaded model ``name`` (one load per process: the core's tagger cache)."""
        from ..models.loading import load_tagger

        entry = self.model_entry(name)
        tagger = load_tagger(entry.path)
        if name not in self.loaded:
            self.loaded.append(name)
        return tagger

    def warm(self) -> None:
        """Load the models of ``settings.warm`` and tag a 30 s WAV of noise with each.

        A whole 30 s clip, decoded from WAV bytes at 22 050 Hz: the decoder, the resampler and a
        full batch of patches are then ready too, so the first request is as fast as the others.
        """
        import soundfile as sf

        from ..predict import tag_file

        sr = 22050
        y = (0.1 * np.random.default_rng(0).standard_normal(sr * 30)).astype(np.float32)
        wav = io.BytesIO()
        sf.write(wav, y, sr, format="WAV")
        for name in self.settings.warm:
            t0 = time.perf_counter()
            wav.seek(0)
            buf = io.BytesIO(wav.getvalue())
            buf.name = "<warm-up>.wav"
            tag_file(buf, self.tagger(name))
            log.info("model %s loaded and warmed in %.1f s", name, time.perf_counter() - t0)

    # -- checks at the edge ---------------------------------------------------------
    def check_uploads(self, uploads: list[Upload]) -> None:
        """Refuse too many files or a file over the upload limit (413, naming the file)."""
        from ..uploads.limits import check_upload_size, limits

        if not uploads:
            raise ApiError(422, "invalid request", "send one or more audio files in the multipart field 'files'")
        if len(uploads) > self.settings.max_files:
            raise ApiError(413, "too many files", f"{len(uploads)} files in one request; at most {self.settings.max_files} "
                           "(MUSICTAG_API_MAX_FILES): split them over several requests")
        limit = limits().max_upload_bytes
        for up in uploads:
            try:
                check_upload_size(int(up.size or 0), limit=limit, name=up.name)
            except ParameterError as exc:
                raise ApiError(413, "file too large", str(exc)) from None

    # -- work (in the pool) ---------------------------------------------------------------
    def tag_uploads(self, uploads: list[Upload], *, model: str, overlap: float, top_k: int | None) -> list[dict]:
        """``musictag tag``'s JSON object of each upload (``error`` for a file that failed)."""
        from ..commands.tag import file_result
        from ..uploads.limits import limits

        tagger = self.tagger(model)
        max_duration = limits().max_duration_s
        return [
            file_result(up.buffer(), tagger, overlap=overlap, max_duration=max_duration, top_k=top_k)[0] for up in uploads
        ]

    def embed_uploads(self, uploads: list[Upload], *, model: str) -> list[dict]:
        """Track-level embeddings of each upload (its first ``MUSICTAG_MAX_DURATION_S`` seconds)."""
        from ..audio import load_audio
        from ..predict import embed_array
        from ..uploads.limits import limits

        tagger = self.tagger(model)
        max_duration = limits().max_duration_s
        out = []
        for up in uploads:
            try:
                y, sr = load_audio(up.buffer(), sr=tagger.sr, duration=max_duration + 0.25)
                n_max = int(round(max_duration * sr))
                truncated = len(y) > n_max
                y = y[:n_max]
                emb = embed_array(y, sr=sr, model=tagger, name=up.name)
            except AudioError as exc:
                out.append({"path": up.name, "model": tagger.name, "error": exc.reason})
                continue
            out.append({
                "path": up.name, "model": tagger.name, "duration_s": round(len(y) / sr, 5), "truncated": bool(truncated),
                "embeddings": {k: [round(float(v), 7) for v in np.asarray(a).ravel()] for k, a in emb.items()},
            })  # fmt: skip
        return out


def batch_outcome(results: list[dict], *, what: str = "tagged") -> list[dict]:
    """The CLI's rule for a batch: one bad file is a 422; several are a 200 with ``error`` objects unless all fail.

    Raises
    ------
    ApiError
        422 naming the file(s) when every file failed.
    """
    failed = [r for r in results if "error" in r]
    if failed and len(failed) == len(results):
        if len(results) == 1:
            r = results[0]
            raise ApiError(422, "bad audio file", f"{r['path']}: {r['error']}")
        detail = f"none of the {len(results)} files could be {what}: " + "; ".join(f"{r['path']}: {r['error']}" for r in failed)
        raise ApiError(422, "bad audio files", detail, extra={"results": results})
    return results

"""The tagger of the shipped musicnn / VGG models (card format ``"musicnn-keras"``).

TensorFlow is imported when a tagger is created, not when this module is. Keras
is imported only when the Keras model itself is needed (``model_``): the
musicnn tagger runs the folded graph of :mod:`~musictag_core.models.musicnn.fast`,
whose weights are cached in ``<cache>/musicnn-folded/`` under the model file's
SHA-256 (written on the first load, about 1 s of Keras import and model loading
saved on every later process).

Precision (:func:`default_precision`): ``"mixed"`` where the CPU has AMX for bfloat16
(about 30 % less CPU time, track scores within 5e-4 of float32 on the shared clips),
``"float32"`` elsewhere; ``$MUSICTAG_PRECISION`` overrides it.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from ...config import PRECISION_ENV, PRECISIONS, cpu_has_amx, default_precision
from ...errors import ModelError, ParameterError
from ..keras_io import load_keras_model, to_bfloat16

__all__ = ["PRECISION_ENV", "MusicnnTagger", "cpu_has_amx", "default_precision"]

class MusicnnTagger:
    """Tagger for converted musicnn / VGG models (card format ``"musicnn-keras"``).

    Patches are run in batches of at most ``batch_size`` through one traced
    ``tf.function`` with a fixed patch shape, so calls never retrace. For musicnn
    models in float32 that function is the folded graph of
    :func:`musictag_core.models.musicnn.fast.musicnn_forward` (the same scores as
    the Keras model to float32 rounding, about 15 % less CPU time); the Keras
    model stays in ``model_``. The function is traced and run once on a silent
    patch when the tagger is created, so the first real call is not slow.

    Parameters
    ----------
    path : str or Path
        Model folder with ``card.json`` and ``model.keras``.
    card : dict
    batch_size : int
        Patches per forward pass (bounds memory for long files).
    precision : {"float32", "mixed", "bfloat16"} or None
        None (default): :func:`default_precision` (``"mixed"`` on CPUs with AMX,
        else ``"float32"``; ``$MUSICTAG_PRECISION`` overrides it).
        ``"float32"`` reproduces musicnn (the Keras model to float32 rounding).
        ``"mixed"`` runs the timbral convolutions of the folded graph in split
        bfloat16 and the longest temporal one in bfloat16 (see
        :func:`~musictag_core.models.musicnn.fast.folded_forward`): about 30 % less
        CPU time with AMX, track scores within 5e-4 of float32 on the shared clips
        (float32 for the Keras path). ``"bfloat16"`` computes the front-end
        convolutions in bfloat16 (every layer but the BatchNorms for the Keras path:
        VGG, or ``fast=False``): about 1.6x less CPU time on CPUs with AMX /
        AVX512-BF16, slower elsewhere; track scores move by up to about 0.005 (0.01
        for the Keras path), so it is opt-in.
    fast : bool
        Use the folded musicnn graph (musicnn models only; others always run the
        Keras model). ``False`` runs the Keras model itself.
    warmup : bool
        Trace the inference function and run it once on a silent patch now.
    """

    def __init__(
        self, path: str | Path, card: dict, *, batch_size: int = 32, precision: str | None = None,
        fast: bool = True, warmup: bool = True,
    ) -> None:
        if precision is None:
            precision = default_precision()
        if precision not in PRECISIONS:
            raise ParameterError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.path = Path(path)
        self.card = card
        self.batch_size = batch_size
        self.precision = precision
        self.name = str(card.get("name") or self.path.name)
        self.labels = list(card["labels"])
        self.genres = [g for g in self.labels if g in set(card.get("genres") or self.labels)]
        self.sr = int(card["sr"])
        self.n_fft = int(card["n_fft"])
        self.hop_length = int(card["hop_length"])
        self.n_mels = int(card["n_mels"])
        self.patch_frames = int(card["patch_frames"])
        self.weights_path = self.path / card.get("weights", "model.keras")
        self.fast = bool(fast) and card.get("architecture", "musicnn") == "musicnn"
        if not self.fast and precision == "mixed":
            self.precision = "float32"  # the Keras path has no split precision
        self._model = None
        self._fn = None
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        if not self.fast:
            self.model_  # noqa: B018 - load now: a broken file fails here, not at the first song
        if warmup:
            self.forward(np.zeros((1, self.patch_frames, self.n_mels), dtype=np.float32))

    def __repr__(self) -> str:
        return f"MusicnnTagger(name={self.name!r}, path={str(self.path)!r})"

    @property
    def model_(self):  # noqa: ANN201
        """The Keras model (in bfloat16 when ``precision="bfloat16"``), loaded on first use."""
        with self._model_lock:
            if self._model is None:
                model = load_keras_model(self.weights_path)
                self._model = to_bfloat16(model) if self.precision == "bfloat16" and not self.fast else model
            return self._model

    def folded_weights(self) -> dict:
        """The folded musicnn weights (:func:`~musictag_core.models.musicnn.fast.fold_musicnn`), cached on disk.

        Read from ``<cache>/musicnn-folded/<sha256 of the weights file>-v<layout>.npz``
        when present (no Keras import); otherwise folded from the Keras model and
        written there (silently skipped when the cache is not writable).
        """
        from ...paths import cache_dir
        from .fast import FOLDED_VERSION, fold_musicnn, load_folded, save_folded

        try:
            digest = hashlib.sha256(self.weights_path.read_bytes()).hexdigest()[:32]
        except OSError:
            raise ModelError(
                f"{self.weights_path.name}: model weights are missing or unreadable; re-create them "
                "(see card.json 'source')"
            ) from None
        try:
            cached = cache_dir() / "musicnn-folded" / f"{digest}-v{FOLDED_VERSION}.npz"
        except OSError:
            cached = None
        if cached is not None and cached.is_file():
            try:
                return load_folded(cached)
            except ModelError:
                pass  # a partial or foreign file: fold again and overwrite it
        folded = fold_musicnn(self.model_)
        if cached is not None:
            try:
                save_folded(folded, cached)
            except OSError:
                pass
        return folded

    def forward(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """Run mel patches through the network.

        Parameters
        ----------
        patches : np.ndarray [shape=(n, patch_frames, n_mels)]
            From :meth:`patches`.

        Returns
        -------
        dict of np.ndarray
            ``tags`` [shape=(n, n_labels)] sigmoid scores, and the embeddings
            ``pooled`` [shape=(n, 1506)] and ``penultimate`` [shape=(n, 200)] for musicnn.
        """
        import tensorflow as tf

        with self._lock:
            if self._fn is None:
                self._fn = self._make_fn()
            outs: dict[str, list[np.ndarray]] = {}
            # near-equal batches of at most batch_size (60 patches: 2 x 30, not 32 + 28)
            n_batches = max(1, -(-len(patches) // self.batch_size))
            for chunk in np.array_split(patches, n_batches):
                res = self._fn(tf.constant(chunk))
                for k, v in res.items():
                    outs.setdefault(k, []).append(np.asarray(v.numpy(), dtype=np.float32))
        return {k: np.concatenate(v, axis=0) for k, v in outs.items()}

    def settle(self, *, rounds: int = 3) -> None:
        """Run ``rounds`` full batches of silence, so memory reaches its steady state before real work.

        The forward pass's buffers (oneDNN's, and the allocator's arenas) grow over the first
        few full-size batches and then stay: with ``precision="mixed"`` from about 1.9 to 3.4 GB
        of RSS on the benchmark machine (float32: 0.7 to 2.1 GB). A server calls this while
        warming up, so that a burst of uploads does not raise its RSS for good.

        Parameters
        ----------
        rounds : int
            Batches of ``batch_size`` silent patches to run (three reach the plateau there).
        """
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise ParameterError(f"rounds must be a non-negative integer, got {rounds!r}")
        silence = np.zeros((self.batch_size, self.patch_frames, self.n_mels), dtype=np.float32)
        for _ in range(rounds):
            self.forward(silence)

    def _make_fn(self):
        import tensorflow as tf

        if self.fast:
            from .fast import folded_forward

            try:
                return folded_forward(self.folded_weights(), front_dtype=self.precision)
            except ModelError:  # not a standard musicnn graph: run the Keras model
                self.fast = False
                if self.precision == "mixed":
                    self.precision = "float32"
                with self._model_lock:
                    if self.precision == "bfloat16":
                        self._model = None  # reloaded below as the bfloat16 Keras copy
        model = self.model_
        spec = tf.TensorSpec([None, self.patch_frames, self.n_mels], tf.float32)
        return tf.function(lambda x: model(x, training=False), input_signature=[spec])

    def mel(self, y: np.ndarray) -> np.ndarray:
        """The log-compressed mel spectrogram the model's patches are cut from [shape=(frames, n_mels)], float32."""
        from .frontend import musicnn_mel

        return musicnn_mel(y, sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels)

    def patches(self, y: np.ndarray, *, overlap: float = 0.0, mel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mel patches of ``y`` and their start times.

        ``mel``: :meth:`mel` of ``y`` when the caller already has it (:meth:`predict_with_mel`).

        Returns
        -------
        patches : np.ndarray [shape=(n, patch_frames, n_mels)]
        starts_s : np.ndarray [shape=(n,)]
        """
        from .frontend import musicnn_patches, patch_hop_frames

        hop = patch_hop_frames(
            overlap, patch_frames=self.patch_frames, sr=self.sr, hop_length=self.hop_length
        )
        if mel is None:
            mel = self.mel(y)
        p = musicnn_patches(mel, patch_frames=self.patch_frames, hop_frames=hop)
        starts = np.arange(len(p)) * (hop * self.hop_length / self.sr)
        return p, starts

    def predict(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Segment start times [shape=(n,)] and sigmoid scores [shape=(n, n_labels)] of ``y``."""
        p, starts = self.patches(y, overlap=overlap)
        return starts, self.forward(p)["tags"]

    def predict_with_mel(self, y: np.ndarray, *, overlap: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`predict`, also returning the :meth:`mel` its patches were cut from (the Tag page draws it)."""
        mel = self.mel(y)
        p, starts = self.patches(y, overlap=overlap, mel=mel)
        return starts, self.forward(p)["tags"], mel

    def embed(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """Track-averaged embeddings: ``pooled`` (1506-d for musicnn) and ``penultimate`` (200-d)."""
        p, _ = self.patches(y)
        out = self.forward(p)
        return {k: v.mean(axis=0) for k, v in out.items() if k != "tags"}



"""Import TensorFlow without the Keras it loads eagerly (for short-lived processes such as ``musictag tag``).

``import tensorflow`` also imports all of Keras 3 (its ``__init__`` loads
``keras.src.optimizers`` "for SavedModel registrations"), about a third of
TensorFlow's import time (1.2 of 3.6 CPU seconds on the 2-core benchmark
machine). The folded musicnn graph needs neither Keras nor those
registrations, so :func:`import_tensorflow_lean` hides ``keras`` while
TensorFlow initialises; TensorFlow catches the ``ImportError``, and a later
``import keras`` (a Keras model, training) works as usual.
"""

from __future__ import annotations

import os
import sys
import threading

__all__ = ["import_tensorflow_lean"]

_LOCK = threading.Lock()


def import_tensorflow_lean():  # noqa: ANN201
    """Import and return ``tensorflow``, keeping Keras out of it when nothing has imported Keras yet.

    Call it only where no other thread may be importing Keras at the same time
    (the command line, before any work starts): while TensorFlow initialises,
    ``import keras`` raises ``ImportError``. With ``TF_USE_LEGACY_KERAS`` set, or
    Keras or TensorFlow already imported, it is a plain ``import tensorflow``.

    Returns
    -------
    module
        ``tensorflow``.
    """
    with _LOCK:
        if "tensorflow" in sys.modules or "keras" in sys.modules or os.environ.get("TF_USE_LEGACY_KERAS"):
            import tensorflow as tf

            return tf
        sys.modules["keras"] = None  # type: ignore[assignment]  # makes `import keras...` raise ImportError
        try:
            import tensorflow as tf
        finally:
            if sys.modules.get("keras", 0) is None:
                del sys.modules["keras"]
        return tf

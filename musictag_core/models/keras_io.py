"""Keras model files: one loader for every ``.keras`` file musictag opens, and a bfloat16 copy.

Keras is imported inside the functions, so importing this module is cheap.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelError

__all__ = ["load_keras_model", "to_bfloat16"]


def load_keras_model(path: Path):  # noqa: ANN201
    """Load a ``.keras`` file with ``safe_mode=True`` and without compiling it.

    Parameters
    ----------
    path : Path

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelError
        The file is missing or Keras cannot read it (the message names the file and Keras' reason).
    """
    import keras

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path.name}: model weights are missing; re-create them (see card.json 'source') or train the run again")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # noqa: BLE001 - keras raises many types for bad files
        raise ModelError(f"{path.name}: cannot load the Keras model ({str(exc).splitlines()[0][:200]})") from None


def to_bfloat16(model):  # noqa: ANN001, ANN201
    """A copy of ``model`` whose layers (BatchNorm excepted) compute in bfloat16."""
    import keras

    def clone(layer):  # noqa: ANN001, ANN202
        config = layer.get_config()
        if not isinstance(layer, (keras.layers.InputLayer, keras.layers.BatchNormalization)):
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    fast = keras.models.clone_model(model, clone_function=clone)
    fast.set_weights(model.get_weights())
    return fast

"""Convert the pretrained musicnn checkpoints to Keras 3 models with cards.

The ``musicnn==0.1.0`` wheel (Jordi Pons, Music Technology Group, UPF; ISC
licence) carries TF1 checkpoints of four taggers trained on 3 s mel patches:
``MSD_musicnn`` and ``MSD_vgg`` (Million Song Dataset, 50 last.fm tags) and
``MTT_musicnn`` and ``MTT_vgg`` (MagnaTagATune, 50 tags). This module reads
them with ``tf.compat.v1.train.NewCheckpointReader`` (the checkpoint prefix is
an empty file name, which ``tf.train.load_checkpoint`` rejects), copies the
weights into the Keras ports of :mod:`musictag_core.models.musicnn.build` (the Adam
slots are ignored), and writes ``<out>/<name>/``:

* ``model.keras``: the Keras model, standard layers only, loads with
  ``keras.saving.load_model(path, safe_mode=True)``;
* ``card.json``: labels, genre subset, audio and patch parameters, source,
  licence, published scores, code version;
* ``LICENSE-musicnn.txt``: the ISC notice of the wheel.

:func:`reference_outputs` runs the *original* TF1 inference graph, pruned from
the checkpoint's ``.meta`` file and frozen with its weights, so the port can be
checked against it patch by patch.
"""

from __future__ import annotations

import ast
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ... import __version__
from ...errors import ModelError, ParameterError
from .build import CHECKPOINT_LAYER_NAMES, VGG_POOLS_MSD
from .frontend import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SR,
)

__all__ = [
    "PRETRAINED",
    "PretrainedSpec",
    "MSD_GENRES",
    "MTT_GENRES",
    "DEFAULT_CONVERT",
    "MUSICNN_FORMAT",
    "read_checkpoint",
    "convert_checkpoint",
    "convert_wheel",
    "make_card",
    "reference_outputs",
]

#: Card ``format`` of converted musicnn models (the predict loader registry key).
MUSICNN_FORMAT = "musicnn-keras"

#: Genre tags among the 50 MSD (last.fm) tags; the others are moods, eras, voices, instruments.
MSD_GENRES = [
    "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz",
    "metal", "chillout", "classic rock", "soul", "indie rock", "electronica", "folk", "punk",
    "blues", "hard rock", "ambient", "experimental", "Hip-Hop", "country", "easy listening",
    "funk", "electro", "heavy metal", "Progressive rock", "rnb", "indie pop", "House",
]  # fmt: skip

#: Genre (and genre-like style) tags among the 50 MagnaTagATune tags.
MTT_GENRES = [
    "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "classic",
    "new age", "dance", "country", "metal", "choral",
]  # fmt: skip


@dataclass(frozen=True)
class PretrainedSpec:
    """What is known about one checkpoint of the wheel.

    Attributes
    ----------
    name : str
        Folder name in the wheel and in ``assets/models``.
    architecture : str
        Key of :data:`musictag_core.models.musicnn.build.ARCHITECTURES`.
    labels_key : str
        Name of the label list in the wheel's ``configuration.py``.
    genres : list of str
        The genre subset of the labels.
    dataset : str
    roc_auc, pr_auc : float
        Test-set scores published with the wheel (its ``experiment.result``).
    config : dict
        Architecture config overrides (e.g. the pools of ``MSD_vgg``).
    """

    name: str
    architecture: str
    labels_key: str
    genres: list[str]
    dataset: str
    roc_auc: float
    pr_auc: float
    config: dict = field(default_factory=dict)


PRETRAINED: dict[str, PretrainedSpec] = {
    "MSD_musicnn": PretrainedSpec(
        "MSD_musicnn", "musicnn", "MSD_LABELS", MSD_GENRES, "Million Song Dataset (last.fm top-50 tags)",
        0.8802, 0.2891,
    ),
    "MTT_musicnn": PretrainedSpec(
        "MTT_musicnn", "musicnn", "MTT_LABELS", MTT_GENRES, "MagnaTagATune (top-50 tags)", 0.9067, 0.3831
    ),
    "MSD_vgg": PretrainedSpec(
        "MSD_vgg", "vgg", "MSD_LABELS", MSD_GENRES, "Million Song Dataset (last.fm top-50 tags)",
        0.8768, 0.2819, {"pools": VGG_POOLS_MSD},
    ),
    "MTT_vgg": PretrainedSpec(
        "MTT_vgg", "vgg", "MTT_LABELS", MTT_GENRES, "MagnaTagATune (top-50 tags)", 0.9030, 0.3823
    ),
}

#: Models converted (and shipped) by default.
DEFAULT_CONVERT = ("MSD_musicnn", "MTT_musicnn")

_CITATION = (
    "Pons, J. and Serra, X. (2019). musicnn: pre-trained convolutional neural networks for "
    "music audio tagging. ISMIR late-breaking/demo. https://github.com/jordipons/musicnn"
)


# ---------------------------------------------------------------- reading


@contextmanager
def _package_dir(source: str | Path) -> Iterator[Path]:
    """Yield the ``musicnn`` package folder of a wheel (zip) or an unpacked copy."""
    src = Path(source).expanduser()
    if not src.exists():
        raise ModelError(
            f"{src}: no such wheel or folder; fetch it with "
            "`pip download --no-deps musicnn==0.1.0 -d DIR` and pass the .whl file"
        )
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise ModelError(f"{src}: not a wheel (zip) file; pass musicnn-0.1.0-py3-none-any.whl")
        with tempfile.TemporaryDirectory(prefix="musicnn-wheel-") as tmp:
            with zipfile.ZipFile(src) as zf:
                members = [
                    m for m in zf.namelist()
                    if (m.startswith("musicnn/") or m.startswith("musicnn-")) and ".." not in m
                ]  # fmt: skip
                if not any(m.startswith("musicnn/") for m in members):
                    raise ModelError(f"{src}: the wheel holds no musicnn/ package")
                zf.extractall(tmp, members=members)
            yield Path(tmp) / "musicnn"
        return
    for cand in (src, src / "musicnn"):
        if (cand / "configuration.py").is_file():
            yield cand
            return
    raise ModelError(f"{src}: not a musicnn wheel folder (no configuration.py in it or in musicnn/)")


def _license_text(pkg: Path) -> str:
    hits = sorted(pkg.parent.glob("musicnn-*.dist-info/LICENSE*")) + sorted(pkg.glob("LICENSE*"))
    if not hits:
        raise ModelError(f"{pkg}: the wheel's LICENSE.md was not found next to the package")
    return hits[0].read_text(encoding="utf-8").strip() + "\n"


def _labels_from(pkg: Path) -> dict[str, list[str]]:
    tree = ast.parse((pkg / "configuration.py").read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.endswith("_LABELS"):
                out[target.id] = list(ast.literal_eval(node.value))
    return out


def _check_name(name: str) -> PretrainedSpec:
    if name not in PRETRAINED:
        raise ParameterError(f"unknown pretrained model {name!r}; choose from {sorted(PRETRAINED)}")
    return PRETRAINED[name]


def _read_weights(ckpt_dir: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    if not (ckpt_dir / ".index").is_file():
        raise ModelError(f"{ckpt_dir}: no checkpoint (.index) in this folder")
    reader = tf.compat.v1.train.NewCheckpointReader(str(ckpt_dir) + "/")
    names = reader.get_variable_to_shape_map()
    return {
        k: np.asarray(reader.get_tensor(k))
        for k in sorted(names)
        if "Adam" not in k and not k.startswith("beta1_power") and not k.startswith("beta2_power")
    }


def read_checkpoint(source: str | Path, name: str) -> dict[str, np.ndarray]:
    """Read the weights of one checkpoint of the wheel, without optimiser slots.

    Parameters
    ----------
    source : str or Path
        The wheel file or an unpacked wheel folder.
    name : str
        ``"MSD_musicnn"``, ``"MTT_musicnn"``, ``"MSD_vgg"`` or ``"MTT_vgg"``.

    Returns
    -------
    dict
        Variable name (``"conv2d/kernel"``) -> array.
    """
    _check_name(name)
    with _package_dir(source) as pkg:
        return _read_weights(pkg / name)


# ---------------------------------------------------------------- converting


def convert_checkpoint(
    weights: dict[str, np.ndarray], *, architecture: str, n_labels: int = 50, config: dict | None = None
):
    """Build the Keras port of ``architecture`` and load checkpoint ``weights`` into it.

    Parameters
    ----------
    weights : dict
        From :func:`read_checkpoint`.
    architecture : str
        ``"musicnn"`` or ``"vgg"``.
    n_labels : int
    config : dict, optional
        Other fields of the architecture's config class.

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelError
        If a variable is missing, has the wrong shape, or is left unused.
    """
    from .build import ARCHITECTURES

    if architecture not in ARCHITECTURES:
        raise ParameterError(f"unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}")
    config_cls, build = ARCHITECTURES[architecture]
    model = build(config_cls(n_labels=n_labels, **(config or {})))
    used: set[str] = set()
    for layer_name, scope in CHECKPOINT_LAYER_NAMES[architecture].items():
        layer = model.get_layer(layer_name)
        kind = type(layer).__name__
        if kind == "BatchNormalization":
            keys = ["gamma", "beta", "moving_mean", "moving_variance"]
        else:
            keys = ["kernel", "bias"]
        arrays = []
        for key, var in zip(keys, layer.weights):
            full = f"{scope}/{key}"
            if full not in weights:
                raise ModelError(f"checkpoint has no variable {full!r} for layer {layer_name!r}")
            value = weights[full]
            if value.shape != tuple(var.shape):
                if value.size != int(np.prod(var.shape)):
                    raise ModelError(
                        f"{full}: shape {value.shape} does not fit layer {layer_name!r} {tuple(var.shape)}"
                    )
                value = value.reshape(tuple(var.shape))  # full-width Conv2D kernel -> Conv1D
            arrays.append(value.astype(np.float32))
            used.add(full)
        layer.set_weights(arrays)
    unused = sorted(set(weights) - used)
    if unused:
        raise ModelError(f"checkpoint variables not mapped to any layer: {unused}")
    return model


def make_card(name: str, *, labels: list[str], architecture_config: dict) -> dict:
    """Return the ``card.json`` content of the converted checkpoint ``name``."""
    import keras

    spec = _check_name(name)
    missing = [g for g in spec.genres if g not in labels]
    if missing:
        raise ModelError(f"{name}: genre(s) {missing} are not among its labels")
    return {
        "name": name,
        "format": MUSICNN_FORMAT,
        "kind": "tagger",
        "task": "multi-label",
        "architecture": spec.architecture,
        "architecture_config": architecture_config,
        "weights": "model.keras",
        "outputs": {
            "tags": f"sigmoid scores, one per label ({len(labels)})",
            "pooled": "max and mean over time of the mid-end features, interleaved per channel"
            if spec.architecture == "musicnn"
            else "flattened last pooling",
            **({"penultimate": "batch-normalised 200-unit dense layer"} if spec.architecture == "musicnn" else {}),
        },
        "labels": list(labels),
        "genres": list(spec.genres),
        "dataset": spec.dataset,
        "sr": MUSICNN_SR,
        "n_fft": MUSICNN_N_FFT,
        "hop_length": MUSICNN_HOP_LENGTH,
        "n_mels": MUSICNN_N_MELS,
        "patch_frames": MUSICNN_PATCH_FRAMES,
        "patch_s": MUSICNN_PATCH_FRAMES * MUSICNN_HOP_LENGTH / MUSICNN_SR,
        "preprocessing": "librosa power mel (defaults otherwise), float32, log10(10000 * S + 1); "
        "non-overlapping patches, short clips repeat-padded; track score = mean of patch scores",
        "source": {
            "package": "musicnn==0.1.0",
            "checkpoint": f"musicnn/{name}/",
            "url": "https://github.com/jordipons/musicnn",
            "citation": _CITATION,
        },
        "licence": "ISC",
        "licence_file": "LICENSE-musicnn.txt",
        "published": {"roc_auc": spec.roc_auc, "pr_auc": spec.pr_auc, "split": "test"},
        "code_version": __version__,
        "converted_with": {"keras": keras.__version__},
    }


def convert_wheel(
    source: str | Path,
    *,
    out_dir: str | Path | None = None,
    models: tuple[str, ...] | list[str] = DEFAULT_CONVERT,
) -> list[Path]:
    """Convert checkpoints of the musicnn wheel to ``<out_dir>/<name>/``.

    Parameters
    ----------
    source : str or Path
        ``musicnn-0.1.0-py3-none-any.whl`` or an unpacked wheel folder.
    out_dir : str or Path, optional
        Defaults to ``assets/models`` of the checkout.
    models : sequence of str
        Checkpoint names (see :data:`PRETRAINED`).

    Returns
    -------
    list of Path
        The written model folders.
    """
    from ...paths import assets_dir
    from .build import ARCHITECTURES

    for name in models:
        _check_name(name)
    out = Path(out_dir) if out_dir is not None else assets_dir() / "models"
    written = []
    with _package_dir(source) as pkg:
        all_labels = _labels_from(pkg)
        licence = _license_text(pkg)
        for name in models:
            spec = PRETRAINED[name]
            labels = all_labels.get(spec.labels_key)
            if not labels:
                raise ModelError(f"{pkg}/configuration.py defines no {spec.labels_key}")
            model = convert_checkpoint(
                _read_weights(pkg / name),
                architecture=spec.architecture,
                n_labels=len(labels),
                config=spec.config,
            )
            config_cls, _ = ARCHITECTURES[spec.architecture]
            arch_config = json.loads(json.dumps(config_cls(n_labels=len(labels), **spec.config).__dict__))
            target = out / name
            tmp = out / f".{name}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            model.save(tmp / "model.keras")
            card = make_card(name, labels=labels, architecture_config=arch_config)
            (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
            (tmp / "LICENSE-musicnn.txt").write_text(licence, encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
            written.append(target)
    return written


# ---------------------------------------------------------------- reference


def reference_outputs(source: str | Path, name: str, patches: np.ndarray) -> dict[str, np.ndarray]:
    """Run the original TF1 inference graph of a checkpoint on mel patches.

    The training graph stored in the checkpoint's ``.meta`` file is pruned to
    the inference outputs, its variables are replaced by the checkpoint values
    (a frozen graph), and it is run in a ``tf.compat.v1.Session`` with
    ``is_training=False``. Nothing from the musicnn package is imported.

    Parameters
    ----------
    source : str or Path
        The wheel or an unpacked wheel folder.
    name : str
    patches : np.ndarray [shape=(n, 187, 96)]
        Log-mel patches (float32).

    Returns
    -------
    dict
        ``tags`` [shape=(n, 50)], and for musicnn ``pooled`` [shape=(n, 1506)]
        and ``penultimate`` [shape=(n, 200)].
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    spec = _check_name(name)
    fetch = {"tags": "model/Sigmoid", "pooled": "model/Flatten/flatten/Reshape"}
    if spec.architecture == "musicnn":
        fetch["penultimate"] = "model/batch_normalization_10/batchnorm/add_1"
    with _package_dir(source) as pkg:
        meta = meta_graph_pb2.MetaGraphDef()
        meta.ParseFromString((pkg / name / ".meta").read_bytes())
        weights = _read_weights(pkg / name)
    graph_def = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, list(fetch.values()))
    for node in graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
        if node.op in ("VariableV2", "Variable"):
            value = weights[node.name]
            node.op = "Const"
            node.ClearField("input")
            for key in list(node.attr):
                del node.attr[key]
            node.attr["dtype"].type = tf.float32.as_datatype_enum
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    x = np.asarray(patches, dtype=np.float32)
    with tf.compat.v1.Session(graph=graph) as sess:
        values = sess.run(
            {k: f"{v}:0" for k, v in fetch.items()},
            feed_dict={"model/Placeholder:0": x, "model/Placeholder_2:0": False},
        )
    return {k: np.asarray(v) for k, v in values.items()}

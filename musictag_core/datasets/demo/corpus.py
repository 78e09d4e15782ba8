"""Rendering demo clips and the demo corpus on disk.

Files
-----
``generate_demo_corpus(out)`` writes::

    out/<style>/<style>.<NNN>.wav          single-style clips, 22050 Hz mono PCM-16
    out/<dominant>/<dominant>+<other>.<NNN>.wav  blends, in the folder of their stronger style
    out/strengths.csv                      track_id,path,artist,<style1>,...  (path relative
                                           to the csv folder, strengths 0-100)
    out/metadata.json                      version, seed, styles, counts, and per clip its
                                           styles, tempo, key, duration and arrangement

Every file is written to a temporary name and moved into place with
:func:`os.replace`; ``metadata.json`` is written last and marks a complete corpus.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DatasetError, ParameterError
from ...fileio import atomic_save
from ..base import DEFAULT_STRENGTH_THRESHOLD, DatasetIndex
from .hard import apply_production, draw_production
from .parts import BASS, DRUMS, HARMONY, RenderContext
from .styles import (
    BLEND_PAIRS,
    BLEND_STRENGTHS,
    DEMO_STYLES,
    N_ARTISTS,
    ClipParams,
    artist_traits,
    draw_clip_params,
    stream_rng,
)
from .synth import highpass, reverb, rms_db

__all__ = [
    "DEMO_VERSION",
    "DEMO_VARIANTS",
    "DemoVariant",
    "demo_folder_name",
    "demo_plan_index",
    "render_clip",
    "synthesize_clip",
    "generate_demo_corpus",
    "demo_corpus_dir",
    "read_corpus",
    "load_demo",
]

#: Version of the generator; part of the cache folder name, bump when output changes.
DEMO_VERSION = "demo-v1"


@dataclass(frozen=True)
class DemoVariant:
    """One synthesised corpus: the easy ``demo`` or the harder ``demo-hard`` (:mod:`.hard`).

    Attributes
    ----------
    name : str
        The dataset spec that names it (``"demo"``, ``"demo-hard"``).
    version : str
        Generator version; part of the cache folder name.
    blend_share : float
        Blended clips per single-style clip (default ``n_blends``).
    duration_range : (float, float)
        Default clip lengths (seconds).
    hard : bool
        Shared instruments, overlapping tempi and per-clip production (:mod:`.hard`).
    title : str
        For captions.
    """

    name: str
    version: str
    blend_share: float
    duration_range: tuple[float, float]
    hard: bool
    title: str


#: The corpora by spec. ``demo`` stays today's corpus, so old runs stay reproducible.
DEMO_VARIANTS: dict[str, DemoVariant] = {
    "demo": DemoVariant("demo", DEMO_VERSION, 0.15, (10.0, 30.0), False, "the demo corpus"),
    "demo-hard": DemoVariant("demo-hard", "demo-hard-v1", 0.25, (8.0, 20.0), True, "the hard demo corpus"),
}


def _variant(variant: str) -> DemoVariant:
    try:
        return DEMO_VARIANTS[variant]
    except KeyError:
        raise ParameterError(f"unknown demo corpus {variant!r}; choose one of {', '.join(DEMO_VARIANTS)}") from None


# --------------------------------------------------------------------------- rendering


def render_clip(
    params: ClipParams,
    *,
    rng: np.random.Generator,
    sr: int = 22050,
    drum_style: str | None = None,
    production: dict | None = None,
) -> np.ndarray:
    """Render drawn parameters to audio.

    Parameters
    ----------
    params : ClipParams
    rng : np.random.Generator
        Source of noise, micro-timing and comping choices.
    sr : int
    drum_style : str or None
        Play this style's drums instead of the rhythm style's (``demo-hard``: a style
        without drums borrowing a neighbour's kit).
    production : dict or None
        EQ, compression and noise floor (:func:`~.hard.draw_production`), applied to the mix.

    Returns
    -------
    y : np.ndarray [shape=(round(params.duration * sr),)], float32
        Peak-normalised to 0.9.
    """
    if not 8000 <= sr <= 96000:
        raise ParameterError(f"sr={sr!r} is out of range; use 8000 to 96000 Hz")
    n_out = int(round(params.duration * sr))
    c = RenderContext(p=params, sr=sr, rng=rng, n=n_out)
    layers = []
    drums = drum_style or params.style
    if drums in DRUMS:
        layers.append((DRUMS[drums](c), params.levels_db[0]))
    layers.append((BASS[params.style](c), params.levels_db[1]))
    layers.append((HARMONY[params.harmony_style](c), params.levels_db[2]))
    y = np.zeros(n_out)
    for x, level in layers:
        y += x * 10 ** ((level - rms_db(x)) / 20)
    y = reverb(y, sr, rng, decay=params.reverb_decay, wet=params.reverb_wet)
    if "hiphop" in (params.style, params.harmony_style):  # vinyl crackle
        crackle = np.zeros(n_out)
        k = rng.poisson(15 * params.duration)
        crackle[rng.integers(0, n_out, k)] = rng.uniform(-1, 1, k) ** 3
        y += 10 ** (-26 / 20) * highpass(crackle, 1500, sr)
    if production is not None:
        y = apply_production(y, sr=sr, production=production, rng=rng)
    y = y / (np.abs(y).max() + 1e-12)
    y += 10 ** (params.noise_db / 20) * rng.standard_normal(n_out)
    fade = min(n_out // 4, int(0.01 * sr)), min(n_out // 4, int(0.3 * sr))
    y[: fade[0]] *= np.linspace(0, 1, fade[0])
    y[n_out - fade[1] :] *= np.linspace(1, 0, fade[1])
    y *= 0.9 / (np.abs(y).max() + 1e-12)
    return y.astype(np.float32)


def synthesize_clip(
    style: str,
    *,
    rng: np.random.Generator,
    sr: int = 22050,
    duration: float | None = None,
    harmony_style: str | None = None,
) -> np.ndarray:
    """Synthesise one clip of a style (draw its parameters, then render them).

    Parameters
    ----------
    style : str
        One of :data:`DEMO_STYLES`.
    rng : np.random.Generator
    sr : int
    duration : float or None
        Seconds; drawn from 10-30 s when None.
    harmony_style : str or None
        Take the chords and lead voices from another style (a blend).

    Returns
    -------
    y : np.ndarray [shape=(n,)], float32
        Mono audio peak-normalised to 0.9.
    """
    params = draw_clip_params(style, rng=rng, duration=duration, harmony_style=harmony_style)
    return render_clip(params, rng=rng, sr=sr)


# --------------------------------------------------------------------------- corpus


def _plan(*, n_per_style: int, n_blends: int, seed: int, hard: bool = False) -> list[dict]:
    """One task per clip: names, styles, strengths and the seed stream of its audio.

    With ``hard`` each task also carries its ``production`` (:func:`~.hard.draw_production`):
    a single-style clip may take its harmony from a neighbouring style; each style has
    ``2 * N_ARTISTS`` artists instead of ``N_ARTISTS``."""
    tasks = []
    n_artists = 2 * N_ARTISTS if hard else N_ARTISTS  # more, smaller artists: held-out artists are fairer tests
    for style in DEMO_STYLES:
        for i in range(n_per_style):
            k = i % n_artists
            production = draw_production(seed, style, i, single=True) if hard else None
            tasks.append({
                "track_id": f"{style}.{i:03d}",
                "path": f"{style}/{style}.{i:03d}.wav",
                "style": style,
                "harmony_style": (production or {}).get("harmony_from") or style,
                "production": production,
                "strengths": {style: 100},
                "artist": f"{style}_{k}",
                "traits": artist_traits(seed, style, k),
                "stream": (style, i),
                "harmony_gain_db": 0.0,
            })
    for j in range(n_blends):
        prng = stream_rng(seed, "blend-plan", j)
        rhythm, harmony = BLEND_PAIRS[j % len(BLEND_PAIRS)]
        hi, lo = BLEND_STRENGTHS[int(prng.integers(len(BLEND_STRENGTHS)))]
        s_r, s_h = (hi, lo) if prng.random() < 0.5 else (lo, hi)
        dominant, other = (rhythm, harmony) if s_r >= s_h else (harmony, rhythm)
        name = f"{dominant}+{other}.{j:03d}"
        tasks.append({
            "track_id": name,
            "path": f"{dominant}/{name}.wav",
            "style": rhythm,
            "harmony_style": harmony,
            "production": draw_production(seed, rhythm, j, single=False) if hard else None,
            "strengths": {rhythm: s_r, harmony: s_h},
            "artist": f"blend_{j % n_artists}",
            "traits": None,
            "stream": ("blend", j),
            "harmony_gain_db": 0.15 * (s_h - s_r),
        })
    return tasks


def _render_task(task: dict, out_dir: str, seed: int, sr: int, duration_range: tuple[float, float]) -> dict:
    import soundfile as sf

    rng = stream_rng(seed, *task["stream"])
    params = draw_clip_params(
        task["style"], rng=rng, duration_range=duration_range, harmony_style=task["harmony_style"],
        harmony_gain_db=task["harmony_gain_db"], traits=task["traits"], artist=task["artist"],
    )
    production = task.get("production")
    if production is not None:  # demo-hard: tempi pulled towards a common range, shared drums, production
        params = replace(params, tempo=0.7 * params.tempo + 0.3 * production["tempo"])
        y = render_clip(params, rng=rng, sr=sr, drum_style=production["drums_from"], production=production)
    else:
        y = render_clip(params, rng=rng, sr=sr)
    if not np.all(np.isfinite(y)):
        raise DatasetError(f"demo clip {task['track_id']} contains non-finite samples; please report this")
    atomic_save(Path(out_dir) / task["path"], lambda p: sf.write(str(p), y, sr, subtype="PCM_16", format="WAV"))
    row = {"track_id": task["track_id"], "path": task["path"], "artist": task["artist"],
           "strengths": task["strengths"], **params.to_dict()}
    if production is not None:
        row["production"] = production
    return row


def generate_demo_corpus(
    out_dir: str | os.PathLike,
    *,
    n_per_style: int = 20,
    n_blends: int | None = None,
    seed: int = 0,
    sr: int = 22050,
    duration_range: tuple[float, float] | None = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    variant: str = "demo",
) -> Path:
    """Generate the demo corpus into ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Folder to write (created; existing corpus files are overwritten).
    n_per_style : int
        Single-style clips per style.
    n_blends : int or None
        Blended two-style clips; default ``round(share * n_per_style * len(DEMO_STYLES))``
        with the variant's share (0.15 for ``demo``, 0.4 for ``demo-hard``).
    seed : int
        Same seed, same files (byte-identical).
    sr : int
    duration_range : (float, float) or None
        Clip lengths are drawn uniformly from this range (seconds); default the
        variant's (10-30 s for ``demo``, 8-20 s for ``demo-hard``).
    n_jobs : int
        Worker processes (joblib); 1 renders in this process, -1 uses every core.
    progress : callable or None
        Called as ``progress(done, total)`` after each clip.
    variant : str
        A key of :data:`DEMO_VARIANTS`.

    Returns
    -------
    Path
        ``out_dir``, holding ``<style>/*.wav``, ``strengths.csv`` and ``metadata.json``.
    """
    spec = _variant(variant)
    if not isinstance(n_per_style, (int, np.integer)) or n_per_style < 1:
        raise ParameterError(f"n_per_style={n_per_style!r} must be a positive integer")
    if n_blends is None:
        n_blends = int(round(spec.blend_share * n_per_style * len(DEMO_STYLES)))
    if duration_range is None:
        duration_range = spec.duration_range
    if n_blends < 0:
        raise ParameterError(f"n_blends={n_blends!r} must be >= 0")
    lo, hi = (float(v) for v in duration_range)
    if not (0.5 <= lo <= hi <= 600):
        raise ParameterError(f"duration_range={duration_range!r} must satisfy 0.5 <= low <= high <= 600 s")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = _plan(n_per_style=int(n_per_style), n_blends=int(n_blends), seed=int(seed), hard=spec.hard)
    total = len(tasks)
    t0 = time.perf_counter()
    args = (str(out), int(seed), int(sr), (lo, hi))
    rows: list[dict] = []
    if n_jobs == 1:
        for task in tasks:
            rows.append(_render_task(task, *args))
            if progress:
                progress(len(rows), total)
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)
        for row in par(delayed(_render_task)(task, *args) for task in tasks):
            rows.append(row)
            if progress:
                progress(len(rows), total)
    order = {t["track_id"]: i for i, t in enumerate(tasks)}
    rows.sort(key=lambda r: order[r["track_id"]])

    table = pd.DataFrame({
        "track_id": [r["track_id"] for r in rows],
        "path": [r["path"] for r in rows],
        "artist": [r["artist"] for r in rows],
        **{s: [int(r["strengths"].get(s, 0)) for r in rows] for s in DEMO_STYLES},
    })
    atomic_save(out / "strengths.csv", lambda p: table.to_csv(p, index=False, lineterminator="\n"))
    counts = {s: int(sum(1 for r in rows if r["strengths"] == {s: 100})) for s in DEMO_STYLES}
    meta = {
        "version": spec.version,
        **({"variant": spec.name} if spec.hard else {}),
        "seed": int(seed),
        "sr": int(sr),
        "styles": list(DEMO_STYLES),
        "n_per_style": int(n_per_style),
        "n_blends": int(n_blends),
        "n_clips": total,
        "counts": {**counts, "blends": int(n_blends)},
        "duration_range": [lo, hi],
        "blend_strengths": [list(p) for p in BLEND_STRENGTHS],
        "generation_s": round(time.perf_counter() - t0, 2),
        "clips": [{k: v for k, v in r.items() if k not in ("path",)} for r in rows],
    }
    atomic_save(out / "metadata.json", lambda p: p.write_text(json.dumps(meta, indent=1)))
    return out


def demo_folder_name(*, seed: int = 0, n_per_style: int = 20, variant: str = "demo") -> str:
    """The cache folder name of a corpus: ``demo-v1-seed0``, ``demo-hard-v1-seed0``, ``...-n<n_per_style>``."""
    return f"{_variant(variant).version}-seed{int(seed)}" + ("" if n_per_style == 20 else f"-n{int(n_per_style)}")


def _is_complete(folder: Path, *, seed: int, n_per_style: int, variant: str = "demo") -> bool:
    try:
        meta = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError):
        return False
    if meta.get("version") != _variant(variant).version or meta.get("seed") != seed or meta.get("n_per_style") != n_per_style:
        return False
    if not (folder / "strengths.csv").is_file():
        return False
    return sum(1 for _ in folder.glob("*/*.wav")) == meta.get("n_clips")


def demo_corpus_dir(
    *,
    seed: int = 0,
    n_per_style: int = 20,
    n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    variant: str = "demo",
) -> Path:
    """Folder of the demo corpus in the cache, generated on first use.

    The corpus lives in ``cache_dir()/"demo-v1-seed<seed>"`` (``demo-hard-v1-...`` for
    ``variant="demo-hard"``; ``-n<n_per_style>`` appended for non-default sizes). It is generated into a private temporary
    folder and renamed into place, so two processes generating at once never see
    a half-written corpus; the loser of the race discards its copy.

    Parameters
    ----------
    seed : int
    n_per_style : int
    n_jobs : int or None
        Worker processes; default: up to 4 cores.
    progress : callable or None
        ``progress(done, total)``, called only when generating.
    variant : str
        A key of :data:`DEMO_VARIANTS`.

    Returns
    -------
    Path
    """
    from ...paths import cache_dir

    root = cache_dir()
    name = demo_folder_name(seed=seed, n_per_style=n_per_style, variant=variant)
    final = root / name
    done = {"seed": int(seed), "n_per_style": int(n_per_style), "variant": variant}
    if _is_complete(final, **done):
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
    try:
        if n_jobs is None:
            n_jobs = max(1, min(4, os.cpu_count() or 1))
        generate_demo_corpus(tmp, n_per_style=n_per_style, seed=seed, n_jobs=n_jobs, progress=progress, variant=variant)
        if final.exists() and not _is_complete(final, **done):
            stale = root / f".{name}.stale-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(final, stale)
                shutil.rmtree(stale, ignore_errors=True)
            except OSError:
                pass
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first
            if not _is_complete(final, **done):
                raise DatasetError(
                    f"could not create the demo corpus in {final}; remove that folder and try again"
                ) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_corpus(folder: Path, *, name: str) -> DatasetIndex:
    """Read a generated corpus folder (no generation, no completeness check).

    Parameters
    ----------
    folder : Path
        A folder written by :func:`generate_demo_corpus`.
    name : str
        Name of the index.

    Returns
    -------
    DatasetIndex
        ``kind="demo"``, absolute paths, artists set, no splits.
    """
    csv = folder / "strengths.csv"
    try:
        table = pd.read_csv(csv, dtype={"track_id": str, "path": str, "artist": str})
        meta = json.loads((folder / "metadata.json").read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(
            f"demo corpus in {folder} is unreadable ({exc}); delete the folder to regenerate it"
        ) from exc
    labels = [s for s in meta["styles"] if s in table.columns]
    tracks = pd.DataFrame({
        "track_id": table["track_id"].astype(str),
        "path": [str((folder / p).resolve()) for p in table["path"]],
        "artist": table["artist"].astype(str),
        "split": pd.Series([pd.NA] * len(table), dtype="object"),
    })
    return DatasetIndex(
        name=name,
        kind="demo",
        labels=labels,
        tracks=tracks,
        strengths=table[labels].to_numpy(dtype=np.float32),
        root=str(folder),
        meta={k: meta[k] for k in ("version", "seed", "sr", "n_per_style", "n_blends", "counts")},
    )


def load_demo(
    *,
    seed: int = 0,
    n_per_style: int = 20,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
    variant: str = "demo",
) -> DatasetIndex:
    """The demo corpus as a :class:`DatasetIndex` (generating it on first use).

    Parameters
    ----------
    seed : int
    n_per_style : int
    threshold : float
        Strength at or above which a style counts as present (blends have one or two).
    progress : callable or None
        ``progress(done, total)`` while generating.
    variant : str
        ``"demo"`` (the easy corpus) or ``"demo-hard"`` (:mod:`.hard`).

    Returns
    -------
    DatasetIndex
        ``kind="demo"``, absolute paths, artists set, labels :data:`DEMO_STYLES`.
    """
    folder = demo_corpus_dir(seed=seed, n_per_style=n_per_style, progress=progress, variant=variant)
    index = read_corpus(folder, name=f"{variant} (seed {seed})")
    index.threshold = float(threshold)
    return index


def demo_plan_index(
    *,
    variant: str = "demo",
    seed: int = 0,
    n_per_style: int = 20,
    threshold: float = DEFAULT_STRENGTH_THRESHOLD,
) -> DatasetIndex:
    """The corpus's index from its plan alone: no audio is generated or needed.

    Tracks, artists and strengths are those :func:`load_demo` gives; paths point where the
    cache holds (or will hold) the clips (``dataset describe`` counts those present).

    Returns
    -------
    DatasetIndex
        ``kind="demo"``.
    """
    from ...paths import cache_dir

    spec = _variant(variant)
    n_blends = int(round(spec.blend_share * n_per_style * len(DEMO_STYLES)))
    tasks = _plan(n_per_style=int(n_per_style), n_blends=n_blends, seed=int(seed), hard=spec.hard)
    folder = cache_dir() / demo_folder_name(seed=seed, n_per_style=n_per_style, variant=variant)
    tracks = pd.DataFrame({
        "track_id": [t["track_id"] for t in tasks],
        "path": [str(folder / t["path"]) for t in tasks],
        "artist": [t["artist"] for t in tasks],
    })
    strengths = np.array([[t["strengths"].get(s, 0) for s in DEMO_STYLES] for t in tasks], dtype=np.float32)
    return DatasetIndex(
        name=f"{variant} (seed {seed})", kind="demo", labels=list(DEMO_STYLES), tracks=tracks, strengths=strengths,
        threshold=float(threshold), root=str(folder),
        meta={"version": spec.version, "seed": int(seed), "n_per_style": int(n_per_style), "n_blends": n_blends},
    )

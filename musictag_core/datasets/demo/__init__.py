"""The embedded demo corpus: a small, deterministic, synthesised music dataset.

The demo corpus is the default dataset of the app, the notebooks and the tests.
It is generated on first use by a small numpy synthesiser (no samples, no
downloads) into the cache folder and reused afterwards.

Every clip draws its parameters from its own ``np.random.Generator``, seeded from
``(seed, style, index)``; there is no global random state, so the same seed gives
byte-identical files.

Modules, each importing only those above it:

- :mod:`.synth`: DSP primitives (oscillators, envelopes, filters, drum and tonal voices, reverb);
- :mod:`.parts`: the drum, bass and harmony parts of each style over a :class:`~.parts.RenderContext`;
- :mod:`.styles`: the six styles (the table of their tempo, drums, bass and harmony is
  there), blends, :class:`ClipParams` and :func:`draw_clip_params`;
- :mod:`.hard`: the harder corpus ``demo-hard`` (shared instruments, overlapping tempi,
  per-clip EQ, compression and noise, more blends);
- :mod:`.corpus`: :func:`render_clip`, :func:`synthesize_clip`, the corpus on disk
  (:func:`generate_demo_corpus`, its file layout) and in the cache (:func:`demo_corpus_dir`,
  :func:`load_demo`), :data:`DEMO_VERSION`.
"""

from .corpus import (
    DEMO_VARIANTS,
    DEMO_VERSION,
    DemoVariant,
    demo_corpus_dir,
    demo_folder_name,
    demo_plan_index,
    generate_demo_corpus,
    load_demo,
    read_corpus,
    render_clip,
    synthesize_clip,
)
from .styles import BLEND_PAIRS, BLEND_STRENGTHS, DEMO_STYLES, ClipParams, draw_clip_params

__all__ = [
    "DEMO_STYLES",
    "DEMO_VARIANTS",
    "DemoVariant",
    "demo_folder_name",
    "demo_plan_index",
    "DEMO_VERSION",
    "BLEND_PAIRS",
    "BLEND_STRENGTHS",
    "ClipParams",
    "draw_clip_params",
    "render_clip",
    "synthesize_clip",
    "generate_demo_corpus",
    "demo_corpus_dir",
    "load_demo",
    "read_corpus",
]

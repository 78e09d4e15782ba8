"""The pretrained musicnn tagger (Pons & Serra 2019), ported to Keras 3.

* :mod:`.frontend`: the log-mel front end and 3 s patches (numpy, librosa);
* :mod:`.build`: the musicnn and VGG architectures and their configs (Keras);
* :mod:`.fast`: a folded, faster inference graph of a loaded musicnn (TensorFlow);
* :mod:`.tagger`: :class:`MusicnnTagger`, the tagger of a shipped model;
* :mod:`.convert`: the TF1 checkpoints of the ``musicnn`` wheel to ``.keras`` + ``card.json``.

Importing this package imports neither TensorFlow, Keras nor librosa; each
function imports what it needs when it is called.
"""

from __future__ import annotations

from .build import (
    ARCHITECTURES,
    CHECKPOINT_LAYER_NAMES,
    VGG_POOLS_MSD,
    VGG_POOLS_MTT,
    MusicnnConfig,
    VGGConfig,
    build_musicnn,
    build_vgg,
)
from .convert import (
    DEFAULT_CONVERT,
    MSD_GENRES,
    MTT_GENRES,
    MUSICNN_FORMAT,
    PRETRAINED,
    PretrainedSpec,
    convert_checkpoint,
    convert_wheel,
    make_card,
    read_checkpoint,
    reference_outputs,
)
from .fast import fold_musicnn, musicnn_forward
from .frontend import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_N_FFT,
    MUSICNN_N_MELS,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SR,
    musicnn_mel,
    musicnn_patches,
    patch_hop_frames,
)
from .tagger import MusicnnTagger

__all__ = [
    "ARCHITECTURES",
    "CHECKPOINT_LAYER_NAMES",
    "DEFAULT_CONVERT",
    "MSD_GENRES",
    "MTT_GENRES",
    "MUSICNN_FORMAT",
    "MUSICNN_HOP_LENGTH",
    "MUSICNN_N_FFT",
    "MUSICNN_N_MELS",
    "MUSICNN_PATCH_FRAMES",
    "MUSICNN_SR",
    "PRETRAINED",
    "VGG_POOLS_MSD",
    "VGG_POOLS_MTT",
    "MusicnnConfig",
    "MusicnnTagger",
    "PretrainedSpec",
    "VGGConfig",
    "build_musicnn",
    "build_vgg",
    "convert_checkpoint",
    "convert_wheel",
    "fold_musicnn",
    "make_card",
    "musicnn_forward",
    "musicnn_mel",
    "musicnn_patches",
    "patch_hop_frames",
    "read_checkpoint",
    "reference_outputs",
]

"""Explore: do my genres separate, in which features, and which genres get confused?

One stage, one package, in data-flow order:

* :mod:`~musictag_core.explore.sources` -- where a dataset comes from (demo,
  typed path, uploaded zip or feature table) and opening it;
* :mod:`~musictag_core.explore.spaces` -- one feature vector per track or
  segment (:func:`feature_matrix`, :func:`load_matrix`);
* :mod:`~musictag_core.explore.projection` -- PCA / UMAP / t-SNE, cached
  (:func:`project`), and :mod:`~musictag_core.explore.warmup` (UMAP's import
  and background compilation);
* :mod:`~musictag_core.explore.separation` -- silhouette, leave-one-out k-NN,
  centroid distances, confusion, pairwise view;
* :mod:`~musictag_core.explore.insight` -- class balance, co-occurrence,
  labels per track, durations;
* :mod:`~musictag_core.explore.result` -- :func:`explore` in one call and its
  :class:`ExploreResult`;
* :mod:`~musictag_core.explore.neighbours` -- how far the projection distorts
  neighbourhoods (trustworthiness, true k-NN kept) and one point's neighbours in both spaces;
* :mod:`~musictag_core.explore.memory` -- :class:`ExploreCache`, the bounded
  in-memory datasets, matrices and results over the disk caches.

The names below are imported lazily: ``import musictag_core.explore`` imports
none of scikit-learn, UMAP or TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the submodule that defines it (imported on first attribute access).
_LAZY = {
    **dict.fromkeys(("ProgressCallback",), "checks"),
    **dict.fromkeys(
        ("SOURCE_KINDS", "DatasetSource", "dataset_root", "demo_ready", "open_source", "path_kind", "path_source",
         "save_table_upload", "save_zip_upload"),
        "sources",
    ),
    **dict.fromkeys(
        ("SPACES", "AUDIO_SPACES", "SPACE_LABELS", "feature_matrix", "levels_for", "load_matrix", "spaces_for"),
        "spaces",
    ),
    **dict.fromkeys(
        ("METHODS", "METRICS", "ProjectionConfig", "Projection", "ProjectionCache", "build_projection", "fit_config",
         "project"),
        "projection",
    ),
    **dict.fromkeys(("UmapWarmup", "import_umap", "start_umap_warmup", "umap_is_warm", "warm_up_umap"), "warmup"),
    **dict.fromkeys(
        ("explained_variance", "loo_knn_predict", "pairwise_view", "separability", "separability_json"), "separation"
    ),
    **dict.fromkeys(("class_balance", "cooccurrence", "labels_per_track", "track_durations"), "insight"),
    **dict.fromkeys(("ExploreResult", "color_columns", "explore", "figures_json", "selected_rows"), "result"),
    **dict.fromkeys(("ExploreCache",), "memory"),
    **dict.fromkeys(("neighbour_preservation", "point_neighbours"), "neighbours"),
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .checks import ProgressCallback  # noqa: F401
    from .insight import class_balance, cooccurrence, labels_per_track, track_durations  # noqa: F401
    from .memory import ExploreCache  # noqa: F401
    from .neighbours import neighbour_preservation, point_neighbours  # noqa: F401
    from .projection import (  # noqa: F401
        METHODS,
        METRICS,
        Projection,
        ProjectionCache,
        ProjectionConfig,
        build_projection,
        fit_config,
        project,
    )
    from .result import ExploreResult, color_columns, explore, figures_json, selected_rows  # noqa: F401
    from .separation import (  # noqa: F401
        explained_variance,
        loo_knn_predict,
        pairwise_view,
        separability,
        separability_json,
    )
    from .sources import (  # noqa: F401
        SOURCE_KINDS,
        DatasetSource,
        dataset_root,
        demo_ready,
        open_source,
        path_kind,
        path_source,
        save_table_upload,
        save_zip_upload,
    )
    from .spaces import (  # noqa: F401
        AUDIO_SPACES,
        SPACE_LABELS,
        SPACES,
        feature_matrix,
        levels_for,
        load_matrix,
        spaces_for,
    )
    from .warmup import UmapWarmup, import_umap, start_umap_warmup, umap_is_warm, warm_up_umap  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'musictag_core.explore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

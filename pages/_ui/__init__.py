"""Shared app helpers (not pages): Streamlit lists only the ``.py`` files directly in ``pages/``.

* :mod:`.cache`: every Streamlit cache wrapper (taggers, model list, analyses).
* :mod:`.columns`: the feature-table column rule's exclusions (Explore, Train).
* :mod:`.errors`: errors shown as messages, configuration limits.
* :mod:`.preflight`: the Train form's pre-flight summary before Start; uploads named, not server paths.
* :mod:`.session`: routing through ``app.py``, start-up clean-up, the session workspace.
* :mod:`.tagging`: the Tag page's cards (scores first, screen-sized figures), its gate and warm-up.
"""

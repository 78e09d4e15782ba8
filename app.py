"""musictag: the Streamlit app. Run with ``streamlit run app.py``.

This file only routes: it sets up the page, the shared sidebar and the
navigation over ``pages/``. ``streamlit run app.py`` serves its ``app`` (an ``st.App``),
whose lifespan starts the tagger's warm-up as the server starts; each session then runs
this file as a script, which routes. Every page is a thin script (inputs → one call into
``musictag_core`` → figures); shared helpers (every cache wrapper, errors, session) live in ``pages/_ui/``.
"""

from __future__ import annotations

import contextlib
import os

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from pages._ui.session import freeze_new_imports, version_text
from pages._ui.tagging import stamp, start_warmup
from pages._ui.uploads import show_refused_uploads


@contextlib.asynccontextmanager
async def _warm_at_start(_app):  # noqa: ANN001, ANN202
    """As the server starts: load the default tagger and run one synthetic card, in a background thread."""
    start_warmup()
    yield


def _route() -> None:
    """One script run: the page setup, the shared sidebar and the navigation over ``pages/``."""
    stamp("run")
    st.set_page_config(page_title="musictag", page_icon=":material/music_note:", layout="wide")
    start_warmup()  # once per process: a no-op when the server's start already began it
    PAGES = [
        st.Page("pages/tag.py", title="Tag", icon=":material/label:", url_path="tag", default=True),
        st.Page("pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore"),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        st.Page("pages/runs.py", title="Runs", icon=":material/table_chart:", url_path="runs"),
    ]

    nav = st.navigation(PAGES)

    with st.sidebar:
        st.markdown(f"### :material/music_note: {version_text()}")
        st.caption("An interactive lab for music genre tagging: tag tracks, explore feature spaces, train models.")
        docs_url = os.environ.get("MUSICTAG_DOCS_URL")
        if docs_url:
            st.link_button("Documentation", docs_url, icon=":material/menu_book:")
        with st.expander("Help", icon=":material/help:"):
            st.markdown(
                "- **Tag**: upload or record audio; see genre scores, the taggram and the signal.\n"
                "- **Explore**: project a dataset's features in 2-D.\n"
                "- **Train**: train a model and watch it learn.\n"
                "- **Runs**: compare and clean up training runs.\n\n"
                "Command line: `python -m musictag_core --help`. "
                "Docs: `README.md` in the project folder."
            )
        show_refused_uploads(limit_mb=float(st.get_option("server.maxUploadSize")))

    try:
        nav.run()
    finally:  # also after st.stop()/st.rerun(), which end a run by raising
        freeze_new_imports()


if get_script_run_ctx() is None:
    # `streamlit run app.py` imports this file as the server (an ASGI app, found by its `app`), so
    # the warm-up starts with the server, before any browser connects; each session then runs
    # this file as a script, which routes.
    app = st.App(__file__, lifespan=_warm_at_start)
else:
    _route()

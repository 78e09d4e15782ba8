"""The page helpers of #14 in Streamlit's headless AppTest: the stability expander, the explanation overlay, a run's curve."""

from __future__ import annotations

import pytest

pytest.importorskip("streamlit")

SCRIPT = '''
import sys
sys.path.insert(0, {repo!r})
import streamlit as st
from pages._ui.robustness import render_stability
from pages._ui.explain import render_explanation
data = open({clip!r}, "rb").read()
render_stability(data, name="blues.wav", digest="d1", model="MSD_musicnn", key="k", max_duration=3.5)
render_explanation(data, name="blues.wav", digest="d1", model="MSD_musicnn", key="k", max_duration=3.5, default_tag="blues")
'''


@pytest.mark.slow
def test_stability_and_explanation_compute_on_request(clips_dir, tmp_path):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    repo = str(Path(__file__).resolve().parents[1])
    script = tmp_path / "page.py"
    script.write_text(SCRIPT.format(repo=repo, clip=str(clips_dir / "blues.00000.wav")))
    at = AppTest.from_file(str(script), default_timeout=240).run()
    assert not at.exception
    labels = [b.label for b in at.button]
    assert labels == ["Check stability", "Explain"]
    assert at.selectbox[0].value == "blues"
    assert not at.markdown or all("overtakes" not in m.value and "stays first" not in m.value for m in at.markdown)
    at.button[0].click().run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "blues" in text and ("stays first" in text or "overtakes" in text)
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 11
    at.button[1].click().run()  # the stability result stays shown; the explanation is added
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert "most salient 10%" in captions and "masked copies" in captions
    assert len(at.get("plotly_chart")) == 2

"""pages._ui helpers that do not need a browser."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_freeze_new_imports_freezes_once_per_new_module_set():
    # In a subprocess: gc.freeze() is process-wide and would change this test process.
    code = textwrap.dedent(
        """
        import gc, json
        from pages._ui.session import freeze_new_imports
        out = {"before": gc.get_freeze_count()}
        out["first"] = freeze_new_imports()
        out["frozen"] = gc.get_freeze_count()
        out["again"] = freeze_new_imports()
        import xml.dom.minidom  # new modules: freeze again
        out["after_import"] = freeze_new_imports()
        out["frozen_after"] = gc.get_freeze_count()
        gc.collect()
        out["unfrozen_tracked"] = len(gc.get_objects())
        print(json.dumps(out))
        """
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = __import__("json").loads(res.stdout.strip().splitlines()[-1])
    assert out["before"] == 0
    assert out["first"] is True and out["frozen"] > 10_000  # streamlit, numpy, ... are now frozen
    assert out["again"] is False
    assert out["after_import"] is True and out["frozen_after"] > out["frozen"]
    assert out["unfrozen_tracked"] < out["frozen_after"] // 10  # a full collection walks few objects

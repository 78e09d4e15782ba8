"""Uploads the browser refused, shown on the page (#13).

Streamlit refuses a file over ``server.maxUploadSize`` in the browser, before it reaches
the page: the file chip turns red and says why only on hover, while the page reads as if
nothing had been uploaded. :func:`show_refused_uploads` adds a small script (once per
page load) that writes, under each file uploader, one line per refused file naming the
file, its size and the limit.
"""

from __future__ import annotations

import json

import streamlit as st

__all__ = ["show_refused_uploads"]

_SCRIPT = """
<script>
(() => {
  const limitMb = %(limit)s;
  const update = () => {
    document.querySelectorAll('[data-testid="stFileUploader"]').forEach((uploader) => {
      const refused = Array.from(uploader.querySelectorAll('[data-testid="stFileChip"][aria-invalid="true"]'));
      let box = uploader.querySelector(':scope > .musictag-refused-uploads');
      if (!refused.length) { if (box) box.remove(); return; }
      if (!box) {
        box = document.createElement('div');
        box.className = 'musictag-refused-uploads';
        box.setAttribute('role', 'alert');
        box.setAttribute('data-testid', 'musictagRefusedUploads');
        box.style.cssText = 'margin-top:0.5rem;padding:0.5rem 0.75rem;border-radius:0.5rem;'
          + 'background:rgba(255,43,43,0.09);color:rgb(125,53,59);font-size:0.9rem;';
        uploader.appendChild(box);
      }
      const lines = refused.map((chip) => {
        const nameEl = chip.querySelector('[data-testid="stFileChipName"]');
        const name = (nameEl && nameEl.getAttribute('title')) || (chip.getAttribute('aria-label') || '').split(', ')[0];
        const size = (chip.getAttribute('aria-label') || '').split(', ').slice(-1)[0];
        const alertEl = chip.querySelector('[role="alert"]');
        const why = ((alertEl && alertEl.textContent) || '').replace(/^Error:\\s*/, '');
        const tooBig = /or smaller/.test(why);
        return tooBig
          ? `${name} was not uploaded: it is ${size}, over the ${limitMb} MB upload limit. Split or compress it, or raise the limit (MUSICTAG_MAX_UPLOAD_MB and server.maxUploadSize).`
          : `${name} was not uploaded: ${why || 'the browser refused it'}`;
      });
      const text = lines.join('\\n');
      if (box.innerText !== text) { box.innerText = text; }
    });
  };
  if (window.__musictagRefusedUploads) { window.__musictagRefusedUploads.disconnect(); }
  const observer = new MutationObserver(update);
  observer.observe(document.body, {childList: true, subtree: true, attributes: true, attributeFilter: ['aria-invalid']});
  window.__musictagRefusedUploads = observer;
  update();
})();
</script>
"""


def show_refused_uploads(*, limit_mb: float) -> None:
    """Install the script that names refused uploads on the page (call once per run, from ``app.py``).

    Parameters
    ----------
    limit_mb : float
        The upload limit shown in the message (``server.maxUploadSize``, which equals
        ``MUSICTAG_MAX_UPLOAD_MB`` when configured as the README says).
    """
    st.html(_SCRIPT % {"limit": json.dumps(f"{limit_mb:g}")}, unsafe_allow_javascript=True)

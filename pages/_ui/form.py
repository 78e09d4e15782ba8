"""Numeric fields of a form that runs what it shows (#13).

A field is a text box: what is typed is parsed by
:func:`musictag_core.training.form.parse_field`; a value that does not parse or lies
out of range is never replaced by an earlier one. The reason stands under the field
in words, and the caller keeps Start disabled while any field has an error.
"""

from __future__ import annotations

import streamlit as st

from musictag_core.training.form import FieldRule, parse_field

__all__ = ["number_field", "show_form_errors"]


def number_field(
    rule: FieldRule,
    *,
    key: str,
    container=None,  # noqa: ANN001 - a column or st itself
    placeholder: str | None = None,
    help: str | None = None,
    disabled: bool = False,
) -> tuple[float | int | None, str | None]:
    """Draw a numeric text field and parse it.

    Returns
    -------
    value : int, float or None
        ``None`` for an empty optional field (the preset's value), a disabled field, or an error.
    error : str or None
        The reason the text is refused (also shown under the field); ``None`` when fine or disabled.
    """
    box = container if container is not None else st
    if placeholder is None and rule.default is not None:
        placeholder = f"{rule.default:g}"
    text = box.text_input(rule.label, key=key, placeholder=placeholder, help=help, disabled=disabled)
    if disabled:
        return None, None
    value, error = parse_field(text, rule)
    if error:
        reason = error.split(": ", 1)[1] if error.startswith(rule.label + ": ") else error
        with box.container(key=f"{key}_error"):
            st.markdown(f":red[:material/error: {reason}]")
    return value, error


def show_form_errors(errors: list[str]) -> None:
    """Say next to Start why it is disabled: every field error, one per line."""
    if errors:
        with st.container(key="train_form_errors"):
            st.error(
                "Start is disabled until these fields are fixed:\n\n" + "\n".join(f"- {e}" for e in errors),
                icon=":material/block:",
            )

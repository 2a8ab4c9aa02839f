"""Accessible form rendering helpers, used by ``templates/macros/forms.html``.

A field with errors says so to assistive technology (``aria-invalid``, ``aria-describedby``
pointing at the message), and a page that shows a form again with errors gets an error
summary and "Error:" in its title (WCAG 3.3.1, 3.3.2, 4.1.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, g
from markupsafe import Markup

CONTROL_CLASSES = {
    "SelectField": "form-select",
    "SelectMultipleField": "form-select",
    "QuerySelectField": "form-select",
    "BooleanField": "form-check-input",
}


def field_attrs(field: Any, required: bool | None = None, **extra: Any) -> dict[str, Any]:
    """HTML attributes for a WTForms ``field``: Bootstrap classes plus the ARIA state."""
    describedby = []
    if field.description:
        describedby.append(f"{field.id}-help")
    if field.errors:
        describedby.append(f"{field.id}-error")
    css = CONTROL_CLASSES.get(field.type, "form-control")
    if field.errors:
        css += " is-invalid"
    if extra.get("class_") or extra.get("class"):
        css += " " + str(extra.pop("class_", "") or extra.pop("class", ""))
    attrs: dict[str, Any] = {"class": css}
    if is_required(field, required):
        attrs["required"] = True
    else:
        # WTForms adds `required` itself from the validators' flags; an explicit False wins.
        attrs["required"] = False
    if field.errors:
        attrs["aria-invalid"] = "true"
    if describedby:
        attrs["aria-describedby"] = " ".join(describedby)
    attrs.update({k: v for k, v in extra.items() if v is not None})
    return attrs


def is_required(field: Any, required: bool | None = None) -> bool:
    return bool(field.flags.required) if required is None else bool(required)


def form_error_items(
    forms: Any, labels: Mapping[str, str] | None = None
) -> list[tuple[str | None, str]]:
    """(field id or None, "Label: message") for every error of ``forms``.

    ``forms`` is a WTForms form, a list of them, or a ``{field_id: [messages]}`` dict (pages
    that build their form by hand); ``labels`` names the dict's fields.
    """
    items: list[tuple[str | None, str]] = []
    if isinstance(forms, Mapping):
        for key, messages in forms.items():
            label = (labels or {}).get(key)
            for message in _as_list(messages):
                items.append((key if label else None, f"{label}: {message}" if label else message))
        return items
    for form in forms if isinstance(forms, list | tuple) else [forms]:
        if form is None:
            continue
        for field in form:
            for message in _flat(field.errors):
                hidden = field.type in ("CSRFTokenField", "HiddenField")
                items.append(
                    (None, str(message)) if hidden else (field.id, f"{field.label.text}: {message}")
                )
    return items


def note_form_errors() -> Markup:
    """Mark the page as "a form shown again with errors" (read by base.html's title)."""
    g.page_has_form_errors = True
    return Markup("")


def _as_list(messages: Any) -> list[str]:
    if isinstance(messages, str):
        return [messages]
    return [str(m) for m in _flat(messages)]


def _flat(errors: Iterable | Mapping) -> Iterable:
    if isinstance(errors, Mapping):
        for value in errors.values():
            yield from _flat(value)
        return
    for error in errors:
        if isinstance(error, list | tuple | Mapping):
            yield from _flat(error)
        else:
            yield error


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        field_attrs=field_attrs,
        field_is_required=is_required,
        form_error_items=form_error_items,
        note_form_errors=note_form_errors,
    )

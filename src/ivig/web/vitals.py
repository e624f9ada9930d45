"""The form fields of the vital signs, one per ``core.vitals.VITAL_SIGNS`` entry: the run sheet's
recording and the correction page's, alike.

A whole-number sign is an ``IntegerField``, any other a ``FloatField`` to 0.1; none is required
(the service wants at least one). The input's ``min`` and ``max`` are the sign's possible range
in the library in service (``monitoring.toml [vitals.FIELD] possible``): the browser's hint only,
the service's check (item 34) says what is refused and why."""

from __future__ import annotations

from typing import Any, TypeVar

from django import forms

from ivig.core.vitals import VITAL_SIGNS, VitalSign
from ivig.records.library import current_library

__all__ = ["VitalInput", "vital_field", "with_vital_fields"]

F = TypeVar("F", bound=type[forms.Form])


class VitalInput(forms.NumberInput):
    """A number input for one vital sign, bounded by its possible range when drawn."""

    def __init__(self, sign: VitalSign) -> None:
        attrs = (
            {"inputmode": "numeric"} if sign.integer else {"step": "0.1", "inputmode": "decimal"}
        )
        super().__init__(attrs)
        self.field = sign.field

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        low, high = current_library().monitoring.vitals[self.field].possible.value
        bounds = {"min": f"{low:g}", "max": f"{high:g}"}
        return super().get_context(name, value, {**bounds, **(attrs or {})})


def vital_field(sign: VitalSign) -> forms.Field:
    """The form field of one vital sign, labelled with its unit: ``Temperature (°C)``."""
    if sign.integer:
        return forms.IntegerField(label=sign.form_label, required=False, widget=VitalInput(sign))
    return forms.FloatField(label=sign.form_label, required=False, widget=VitalInput(sign))


def with_vital_fields(form: F) -> F:
    """A form class decorator: a field per vital sign, in their order, before the form's own
    (``field_order`` places them otherwise)."""
    fields = {sign.field: vital_field(sign) for sign in VITAL_SIGNS}
    form.base_fields = {**fields, **form.base_fields}
    form.declared_fields = {**fields, **form.declared_fields}
    return form

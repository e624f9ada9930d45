"""The pages' form renderer: Django's, with the app's words for a missing value (issue 16
item 21). Django says "This field is required." under every empty field; the pages say what is
missing, by the field's label: "Required: Weight (kg)." Named in the settings
(``FORM_RENDERER``), so every form of the pages has it; a form's own message for a missing
value (``error_messages={"required": ...}``) is kept as it is.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.forms.utils import ErrorList

__all__ = ["DJANGO_REQUIRED", "PlainWordsBoundField", "PlainWordsRenderer", "required_words"]

DJANGO_REQUIRED = "This field is required."


def required_words(label: str) -> str:
    """What the page says under an empty required field: ``Required: Weight (kg).``"""
    return f"Required: {label.strip().rstrip(':')}."


class PlainWordsBoundField(BoundField):
    """A form field on a page: its "required" error in the app's words."""

    @property
    def errors(self) -> ErrorList:
        errors: ErrorList = super().errors
        found = errors.as_data()
        if not any(e.code == "required" and e.message == DJANGO_REQUIRED for e in found):
            return errors
        plain = [
            ValidationError(required_words(str(self.label)), code="required")
            if e.code == "required" and e.message == DJANGO_REQUIRED
            else e
            for e in found
        ]
        return self.form.error_class(plain, renderer=self.form.renderer)


class PlainWordsRenderer(DjangoTemplates):
    """Django's template renderer, with :class:`PlainWordsBoundField` for every field."""

    bound_field_class = PlainWordsBoundField

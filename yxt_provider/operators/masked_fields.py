"""Template fields that hold phone numbers: Airflow stores and shows them masked once rendered.

Airflow keeps every rendered template field of a task instance (the UI's "Rendered
Template" view, the ``rendered_task_instance_fields`` table). Its secrets masker hides
secrets and values under sensitive key names, not phone numbers, so an operator whose
``recipients`` render to a list of numbers would publish them to everyone who may read
the DAG. Operators here list those fields in ``number_template_fields``: after rendering,
each holds a :class:`NumbersForDisplay`, which Airflow serialises masked (``138****8000``)
while the operator reads the real value with :meth:`MaskedNumberFieldsMixin.unmasked`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = ["MaskedNumberFieldsMixin", "NumbersForDisplay", "masked_for_display"]


def masked_for_display(value: Any) -> Any:
    """``value`` with every mobile number in it masked: lists and mappings kept, anything else as text."""
    # Lazy: importing yxt_provider.client would load requests while a DAG file is parsed.
    from yxt_provider.client.numbers import mask_numbers_in_text

    if value is None or isinstance(value, (bool, int, float)):
        # A number typed as an int (13800138000) is still a phone number; other numbers stay numbers.
        masked = mask_numbers_in_text(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, Mapping):
        return {str(key): masked_for_display(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [masked_for_display(item) for item in value]
    # NFKC: full-width digits (１３８…), as typed with a Chinese IME, are masked too.
    return mask_numbers_in_text(unicodedata.normalize("NFKC", str(value)))


class NumbersForDisplay:
    """A rendered template field's value that Airflow serialises with its numbers masked.

    Airflow's rendered-field serialiser calls :meth:`serialize` on objects that have one;
    ``str()`` and ``repr()`` are masked too, so logging the field cannot leak either.

    :param value: the rendered value, used unchanged by the operator.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def serialize(self) -> Any:
        """The value as the UI may show it: every number masked."""
        return masked_for_display(self.value)

    def __repr__(self) -> str:
        return repr(self.serialize())

    def __str__(self) -> str:
        return str(self.serialize())


class MaskedNumberFieldsMixin:
    """Mix into an operator whose template fields named in ``number_template_fields`` hold numbers.

    ``_do_render_template_fields`` is the hook Airflow calls for mapped and unmapped tasks
    alike (``MappedOperator.render_template_fields`` calls it on the unmapped task), so the
    fields are wrapped in every rendering path, before Airflow stores the rendered fields.
    """

    number_template_fields: ClassVar[tuple[str, ...]] = ()

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        super()._do_render_template_fields(  # type: ignore[misc]
            parent, template_fields, context, jinja_env, seen_oids
        )
        if parent is not self:
            return  # a nested object's fields, rendered on the way
        for field in self.number_template_fields:
            value = getattr(self, field, None)
            if field in template_fields and value is not None and not isinstance(value, NumbersForDisplay):
                setattr(self, field, NumbersForDisplay(value))

    def unmasked(self, field: str) -> Any:
        """The real value of template field ``field`` (rendered or not)."""
        value = getattr(self, field)
        return value.value if isinstance(value, NumbersForDisplay) else value

"""``ManageOptOutsOperator``: put numbers on the ledger's opt-out list, take them off, import a list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from yxt_provider.hooks.ledger import LedgerUserMixin
from yxt_provider.operators.masked_fields import MaskedNumberFieldsMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["ManageOptOutsOperator"]


class ManageOptOutsOperator(MaskedNumberFieldsMixin, LedgerUserMixin, BaseOperator):
    """Change the opt-out list by hand: add numbers, remove them, or import an existing list.

    Replies with an unsubscribe keyword add their numbers by themselves (see
    ``FetchRepliesOperator``); this operator is for refusals that came another way (a phone
    call, a web form, a list kept before the provider) and for a number whose owner asked to
    receive messages again.

    ``add`` and ``remove`` are typed by a person, so one invalid number fails the task before
    anything changes. ``import_file`` is a list kept elsewhere: its invalid rows are counted
    and shown masked, and the valid ones imported.

    Returns (XCom) the counts: ``added``, ``imported``, ``already_listed``, ``removed``,
    ``not_listed`` and ``invalid`` (rows of ``import_file`` that are not mobile numbers).

    :param add: numbers to put on the list (a list or a comma-separated string; templated).
    :param remove: numbers to take off the list (templated).
    :param import_file: a CSV file (path or ``ObjectStoragePath``) with a header row whose
        numbers all go on the list (templated).
    :param import_encoding: the file's encoding; default UTF-8 (Excel on Chinese Windows saves ``gbk``).
    :param number_field: the file's column holding the number (default: ``phone``, ``手机号码``, …).
    :param note: why, kept with each added number as evidence (templated).
    :param ledger_conn_id: the ledger's SQL connection (templated); default the embedded SQLite file.
    """

    template_fields: Sequence[str] = ("add", "remove", "import_file", "note", "ledger_conn_id")
    number_template_fields: ClassVar[tuple[str, ...]] = ("add", "remove")
    ui_color = "#f3e9e4"

    def __init__(
        self,
        *,
        add: Any = None,
        remove: Any = None,
        import_file: Any = None,
        import_encoding: str | None = None,
        number_field: str | None = None,
        note: str | None = None,
        ledger_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if add is None and remove is None and import_file is None:
            raise ValueError("ManageOptOutsOperator needs add, remove or import_file")
        self.add = add
        self.remove = remove
        self.import_file = import_file
        self.import_encoding = import_encoding
        self.number_field = number_field
        self.note = note
        self.ledger_conn_id = ledger_conn_id

    def execute(self, context: Context) -> dict[str, int]:
        """Check every number, then change the list; return the counts."""
        from yxt_provider.campaign.recipients import clean_recipients, iter_recipients
        from yxt_provider.campaign.sources import iter_file_recipients
        from yxt_provider.client.numbers import InvalidNumberError, normalize_numbers

        try:
            to_add = normalize_numbers(
                recipient.number for recipient in iter_recipients(self.unmasked("add"))
            )
            to_remove = normalize_numbers(
                recipient.number for recipient in iter_recipients(self.unmasked("remove"))
            )
        except (InvalidNumberError, TypeError) as exc:
            raise AirflowFailException(f"opt-out list unchanged: {exc}") from None
        both = set(to_add) & set(to_remove)
        if both:
            raise AirflowFailException(
                f"opt-out list unchanged: {len(both)} numbers are both in add and in remove; keep each in one"
            )
        imported: list[str] = []
        invalid = 0
        if self.import_file is not None:
            try:
                clean = clean_recipients(
                    iter_file_recipients(
                        self.import_file, number_field=self.number_field, encoding=self.import_encoding
                    )
                )
            except (ValueError, OSError) as exc:
                raise AirflowFailException(
                    f"opt-out list unchanged: cannot read {self.import_file}: {exc}"
                ) from None
            imported, invalid = list(clean.valid), clean.invalid
            if invalid:
                self.log.warning(
                    "%d rows of %s are not mobile numbers and were not imported, e.g. %s",
                    invalid, self.import_file, ", ".join(clean.invalid_samples),
                )  # fmt: skip
        ledger = self.ledger
        added = ledger.add_opt_outs(to_add, source="manual", note=self.note) if to_add else 0
        newly_imported = ledger.add_opt_outs(imported, source="import", note=self.note) if imported else 0
        removed = ledger.remove_opt_outs(to_remove) if to_remove else 0
        counts = {
            "added": added,
            "imported": newly_imported,
            "already_listed": len(set(to_add)) - added + len(imported) - newly_imported,
            "removed": removed,
            "not_listed": len(set(to_remove)) - removed,
            "invalid": invalid,
        }
        self.log.info(
            "Opt-out list: %d added, %d imported, %d already on it; %d removed, %d were not on it; %d invalid rows",
            counts["added"], counts["imported"], counts["already_listed"], counts["removed"],
            counts["not_listed"], counts["invalid"],
        )  # fmt: skip
        return counts

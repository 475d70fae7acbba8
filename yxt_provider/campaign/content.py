"""A campaign's message text: one Jinja template, rendered once (uniform) or per recipient.

A uniform campaign of a million recipients renders one text; a personalised one renders a
text per recipient, and recipients whose text comes out the same share batches. The
template sees the caller's context (Airflow's task context) plus, per recipient, that
recipient's variables by name (``{{ name }}``) and as ``{{ recipient.name }}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from jinja2 import Environment, UndefinedError, meta

from yxt_provider.campaign.planning import CampaignPlan, ContentError, plan_campaign
from yxt_provider.campaign.recipients import CleanRecipients, Recipient

__all__ = ["MessageContent", "render_with"]

# Recipients looked at to learn which variable names the audience carries.
_VARIABLE_SAMPLE = 1000


def render_with(template: Any, base_context: Mapping[str, Any]) -> Callable[[Recipient], str]:
    """Return a renderer of a compiled Jinja ``template`` with the base context plus each recipient's variables.

    :param template: a compiled Jinja template.
    :param base_context: what every recipient's text sees (e.g. the task context).
    """

    def render(recipient: Recipient) -> str:
        variables = dict(recipient.variables)
        return str(template.render({**base_context, **variables, "recipient": variables}))

    return render


class MessageContent:
    """The message template of one campaign and the context it is rendered with.

    :param source: the Jinja template text.
    :param environment: the Jinja environment to compile it in (Airflow's, for its filters).
    :param context: variables every text sees.
    """

    def __init__(self, source: str, environment: Environment, context: Mapping[str, Any]) -> None:
        self.source = source
        self.environment = environment
        self.context = dict(context)
        self._names = meta.find_undeclared_variables(environment.parse(source))

    def plan(
        self,
        campaign_id: str,
        clean: CleanRecipients,
        template_id: str,
        batch_size: int,
        ledger_key: str = "",
    ) -> tuple[CampaignPlan, str | None]:
        """Render the texts and cut the batches.

        :param campaign_id: the campaign; serials derive from it.
        :param clean: the cleaned recipients.
        :param template_id: the gateway template every batch uses.
        :param batch_size: numbers per request, at most 1000.
        :param ledger_key: the ledger's identity, mixed into every serial.
        :returns: the plan, and the one text when the campaign is uniform (``None`` otherwise).
        :raises ContentError: when a text cannot be sent, or uses a value a recipient lacks.
        """
        if not clean.valid:  # nobody to write to: nothing to render (a template may need their values)
            return CampaignPlan(), None
        template = self.environment.from_string(self.source)
        variable_names = {"recipient"}.union(
            *(variables.keys() for variables in islice(clean.valid.values(), _VARIABLE_SAMPLE))
        )
        rows = clean.valid_rows()
        try:
            if self._names & variable_names and clean.personalised:
                render = render_with(template, self.context)
                plan = plan_campaign(
                    campaign_id,
                    clean.valid,
                    template_id,
                    render,
                    None,
                    batch_size,
                    rows=rows,
                    ledger_key=ledger_key,
                )
                return plan, None
            uniform = template.render(self.context)
        except UndefinedError as exc:
            raise ContentError(
                f"the message template uses a value a recipient does not have ({exc.message}); "
                "add the column to the recipient source or give the template a default (| default(...))"
            ) from None
        plan = plan_campaign(
            campaign_id, clean.valid, template_id, None, uniform, batch_size, rows=rows, ledger_key=ledger_key
        )
        return plan, uniform

"""``MessageQueueTrigger(scheme="yxt")``: the gateway's inbound replies as a message queue.

Registered under ``queues`` in the provider info, the way Airflow's message-queue
providers (SQS, Kafka, Redis) register theirs, so a DAG author can write::

    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
    from airflow.sdk import Asset, AssetWatcher

    trigger = MessageQueueTrigger(scheme="yxt", yxt_conn_id="yxt_default", ledger_conn_id="yxt_ledger")
    replies = Asset("yxt_replies", watchers=[AssetWatcher(name="yxt_replies", trigger=trigger)])

The keyword arguments are :class:`~yxt_provider.triggers.replies.YxtRepliesTrigger`'s; that
trigger can be used directly as well, without the common-messaging provider.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

try:
    from airflow.providers.common.messaging.providers.base_provider import BaseMessageQueueProvider
except ImportError:  # the common-messaging provider is optional
    from airflow.exceptions import AirflowOptionalProviderFeatureException

    raise AirflowOptionalProviderFeatureException(
        "MessageQueueTrigger(scheme='yxt') needs apache-airflow-providers-common-messaging; "
        "install it, or use yxt_provider.triggers.replies.YxtRepliesTrigger directly"
    ) from None

if TYPE_CHECKING:
    from airflow.triggers.base import BaseEventTrigger

__all__ = ["YxtMessageQueueProvider"]


class YxtMessageQueueProvider(BaseMessageQueueProvider):
    """Dispatches ``scheme="yxt"`` to :class:`~yxt_provider.triggers.replies.YxtRepliesTrigger`."""

    scheme = "yxt"

    def trigger_class(self) -> type[BaseEventTrigger]:
        """The trigger ``MessageQueueTrigger(scheme="yxt", ...)`` runs, with its keyword arguments."""
        from yxt_provider.triggers.replies import YxtRepliesTrigger

        return YxtRepliesTrigger

"""Alerts by SMS: what happened (the event), the text that says it, and the serial that sends it once.

No Airflow import here: the notifier (:mod:`yxt_provider.notifications.sms`) is a thin
shell that hands Airflow's callback context to :meth:`~yxt_provider.alerting.event.AlertEvent.from_context`.
"""

"""Notifiers: SMS alerts for task, DAG and deadline events (``YxtSmsNotifier``)."""

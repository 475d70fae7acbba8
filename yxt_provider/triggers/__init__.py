"""Airflow triggers: the delivery sensor's wait, and the replies watcher that starts DAGs."""

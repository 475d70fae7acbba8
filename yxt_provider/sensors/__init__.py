"""Airflow sensors: wait for a campaign's delivery receipts (deferrable)."""

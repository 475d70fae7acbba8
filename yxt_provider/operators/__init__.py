"""Airflow operators: send a campaign, drain receipts and replies, report on a campaign."""

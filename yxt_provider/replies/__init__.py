"""Inbound replies: read them from the gateway into the ledger, store first, confirm after.

No Airflow import here: the operator and the event trigger are thin shells over it.
"""

"""Airflow hooks: ``YxtHook`` (the gateway connection) and ``YxtLedgerHook`` (the ledger's database)."""

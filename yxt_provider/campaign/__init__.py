"""Campaign logic: what a campaign is, how it is planned into batches, and how it is sent exactly once.

Recipients are cleaned and planned into batches of at most 1000 numbers with deterministic
serials (:mod:`.planning`, :mod:`.serials`); :mod:`.run` records the plan in the ledger or
resumes it; :mod:`.sender` sends what is not sent yet. No Airflow import here: the operators
are thin shells over it.
"""

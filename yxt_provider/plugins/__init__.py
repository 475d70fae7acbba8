"""The "SMS campaigns" view of Airflow 3's UI: a plugin (:mod:`.campaigns`) mounting a FastAPI app (:mod:`.app`).

Pages and a JSON API over the ledger's read model (:mod:`yxt_provider.ledger.overview`),
behind Airflow's authentication (:mod:`.auth`), in English and Simplified Chinese
(:mod:`.labels`), reading the ledger named in Airflow's configuration (:mod:`.source`).
"""

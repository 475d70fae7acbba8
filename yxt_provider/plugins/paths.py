"""Where the campaigns view lives, for the modules that must not load FastAPI to know it (the operators' link)."""

from __future__ import annotations

__all__ = ["CAMPAIGNS_URL_ROUTE", "MOUNT_PREFIX"]

#: Where Airflow's API server mounts the view's app.
MOUNT_PREFIX = "/yxt"
#: The view's route in Airflow's UI (``/plugin/<route>``).
CAMPAIGNS_URL_ROUTE = "sms-campaigns"

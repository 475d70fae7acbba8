"""``YxtCampaignsPlugin``: the "SMS campaigns" view in Airflow 3's UI, registered by the ``airflow.plugins`` entry point.

Installed with the package, loaded by every Airflow component, used by the API server only:
it mounts the view's FastAPI app (:mod:`yxt_provider.plugins.app`) at ``/yxt`` and adds the view
to the UI's navigation (``Browse → SMS campaigns``) and as a tab of each DAG. The app is
built on first use, so the scheduler, workers and DAG processor never import FastAPI for it.

The provider's ``get_provider_info`` does not list the plugin: under Airflow's default lazy
provider discovery that key is ignored, and the entry point alone loads it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from yxt_provider.operators.links import SmsCampaignLink
from yxt_provider.plugins.paths import CAMPAIGNS_URL_ROUTE, MOUNT_PREFIX

__all__ = ["YxtCampaignsPlugin"]


@cache
def _fastapi_apps() -> list[dict[str, Any]]:
    from yxt_provider.plugins.app import create_app

    return [{"app": create_app(), "url_prefix": MOUNT_PREFIX, "name": "SMS campaigns"}]


class YxtCampaignsPlugin(AirflowPlugin):
    """The "SMS campaigns" view: a list of campaigns, each campaign's delivery, the same as JSON."""

    name = "yxt_sms_campaigns"
    external_views = [  # noqa: RUF012 - the shape Airflow's plugin manager reads
        {
            "name": "SMS campaigns",
            "href": f"{MOUNT_PREFIX}/campaigns",
            "destination": "nav",
            "category": "browse",
            "url_route": CAMPAIGNS_URL_ROUTE,
        },
        {
            "name": "SMS campaigns",
            "href": f"{MOUNT_PREFIX}/campaigns?dag_id={{DAG_ID}}",
            "destination": "dag",
            "url_route": f"{CAMPAIGNS_URL_ROUTE}-dag",
        },
    ]
    # The send task's button; listed here too so the API server knows the link by its class.
    operator_extra_links = [SmsCampaignLink()]  # noqa: RUF012

    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The view's app, built the first time the API server asks for it."""
        return _fastapi_apps()

"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Importing this module imports nothing from Airflow or from the rest of the package, so
provider discovery stays cheap. The connection form is declared here (``conn-fields`` and
``ui-field-behaviour``), the way current providers declare it; ``YxtHook`` reuses the same
dictionaries for older UIs.

Operators, sensors, triggers and notifiers are registered in the lists marked below.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "APPROVALS_CONSUMER",
    "CONNECTION_TYPE",
    "DEFAULT_AIRFLOW_API_CONN_ID",
    "DEFAULT_CONN_ID",
    "INTEGRATION_NAME",
    "YXT_CONN_FIELDS",
    "YXT_UI_FIELD_BEHAVIOUR",
    "get_provider_info",
]

PACKAGE_NAME = "yxt-provider"
#: The integration's name in Airflow's UI.
INTEGRATION_NAME = "YXT SMS"
#: The connection type, ``yxt``.
CONNECTION_TYPE = "yxt"
#: The connection id hooks, operators and sensors use when none is given.
DEFAULT_CONN_ID = "yxt_default"
#: The ``http`` connection the SMS approval responder reaches Airflow's REST API through.
DEFAULT_AIRFLOW_API_CONN_ID = "yxt_airflow_api"
#: The reply consumer name of the SMS approval responder (``yxt_reply_handled.consumer``).
APPROVALS_CONSUMER = "yxt_sms_approvals"
HOOK_CLASS_NAME = "yxt_provider.hooks.yxt.YxtHook"
# Keep in step with ``yxt_provider.__version__`` (not imported here to keep discovery import-free).
VERSION = "0.1.0"

#: Custom fields of the connection form; each is stored under the same key in the connection's extra.
YXT_CONN_FIELDS: dict[str, dict[str, Any]] = {
    "sp_code": {
        "label": "Enterprise code (x-sp-code)",
        "schema": {"type": ["string", "null"]},
        "description": "Required. The enterprise number the gateway gave the account, sent as x-sp-code.",
    },
    "info_host": {
        "label": "Info base URL",
        "schema": {"type": ["string", "null"]},
        "description": "Base URL of the /info/... calls (receipts, replies) when another host serves them. "
        "Empty: the send base URL.",
    },
    "sign_uppercase": {
        "label": "Upper-case signature",
        "schema": {"type": ["boolean", "null"], "default": False},
        "description": "Sign with upper-case hex, for deployments that expect it (code 35 otherwise).",
    },
    "timeout": {
        "label": "Timeout (seconds)",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "description": "Seconds to wait for the gateway. Empty: 5 s to connect, 30 s to read. "
        'Separate connect/read timeouts: put "timeout": [5, 30] in the extra JSON.',
    },
    "verify_ssl": {
        "label": "Verify TLS certificates",
        "schema": {"type": ["boolean", "null"], "default": True},
        "description": "Turn off only for a test gateway. A CA bundle path can be given in 'CA bundle'.",
    },
    "ca_bundle": {
        "label": "CA bundle",
        "schema": {"type": ["string", "null"]},
        "description": "Path to a CA bundle to verify the gateway's certificate with (on every worker).",
    },
    "pool_size": {
        "label": "Connection pool size",
        "schema": {"type": ["integer", "null"], "minimum": 1},
        "description": "HTTP connections kept alive per host. Empty: 10 or 'Send requests in flight', "
        "whichever is larger.",
    },
    "max_in_flight": {
        "label": "Send requests in flight",
        "schema": {"type": ["integer", "null"], "default": 4, "minimum": 1},
        "description": "How many send requests one task keeps in flight at once.",
    },
    "max_requests_per_second": {
        "label": "Max send requests per second",
        "schema": {"type": ["number", "null"], "exclusiveMinimum": 0},
        "description": "Rate limit of the gateway account for send requests, shared through the "
        "ledger by every task and worker using it. Empty: no limit.",
    },
    "templates": {
        "label": "Template ids",
        "schema": {"type": ["array", "null"], "items": {"type": "string"}},
        "description": "Template ids registered for this account (optional); sends with another id fail "
        "before any request.",
    },
    "retry_max_attempts": {
        "label": "Retry: attempts",
        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 1},
        "description": "Attempts in all for a call that fails transiently, the first included.",
    },
    "retry_max_elapsed": {
        "label": "Retry: give up after (seconds)",
        "schema": {"type": ["number", "null"], "default": 60, "exclusiveMinimum": 0},
        "description": "No new attempt starts after this many seconds.",
    },
    "retry_initial_wait": {
        "label": "Retry: first back-off (seconds)",
        "schema": {"type": ["number", "null"], "default": 0.5, "minimum": 0},
        "description": "First wait between attempts; it doubles each attempt.",
    },
    "retry_max_wait": {
        "label": "Retry: longest back-off (seconds)",
        "schema": {"type": ["number", "null"], "default": 10, "minimum": 0},
        "description": "Longest single wait between attempts.",
    },
}

#: How the connection form shows Airflow's standard fields: hidden, relabelled, placeholders.
YXT_UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema"],
    "relabeling": {
        "host": "Send base URL",
        "login": "App key",
        "password": "App secret",
    },
    "placeholders": {
        "host": "https://sms.example.com:8080",
        "port": "optional, when the send base URL has no port",
        "login": "the account name (x-app-key)",
        "password": "the account secret (never sent; used to sign)",
        "sp_code": "100001",
        "info_host": "https://sms-info.example.com:8081 (empty: same as send base URL)",
        "ca_bundle": "/etc/ssl/certs/yxt-ca.pem",
        "max_requests_per_second": "e.g. 20",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata for Airflow's providers manager."""
    return {
        "package-name": PACKAGE_NAME,
        "name": "YXT (一信通) SMS",
        "description": "Send batch SMS through the YXT (一信通) gateway exactly once and track "
        "delivery receipts and replies.",
        "versions": [VERSION],
        "integrations": [
            {
                "integration-name": INTEGRATION_NAME,
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": [
                    "yxt_provider.hooks.yxt",
                    "yxt_provider.hooks.ledger",
                    "yxt_provider.hooks.airflow_api",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": [
                    "yxt_provider.operators.sms",
                    "yxt_provider.operators.receipts",
                    "yxt_provider.operators.replies",
                    "yxt_provider.operators.report",
                    "yxt_provider.operators.opt_outs",
                    "yxt_provider.operators.approvals",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": ["yxt_provider.sensors.delivery"],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION_NAME,
                "python-modules": ["yxt_provider.triggers.delivery", "yxt_provider.triggers.replies"],
            }
        ],
        "config": {
            "yxt": {
                "description": "Settings of the YXT SMS provider.",
                "options": {
                    "default_deferrable": {
                        "description": "Default of ``deferrable`` for SmsDeliverySensor. When unset, "
                        "``[operators] default_deferrable`` applies, as for Airflow's own providers.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "True",
                        "default": None,
                    },
                    "ledger_conn_id": {
                        "description": "The SQL connection of the ledger the SMS campaigns view reads (the "
                        "``ledger_conn_id`` your SMS tasks use). Empty: the embedded SQLite file under "
                        "AIRFLOW_HOME.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "yxt_ledger",
                        "default": None,
                    },
                    "result_meanings": {
                        "description": "What the account's receipt failure codes mean, as JSON, for the SMS "
                        "campaigns view (the report operators take ``result_meanings`` themselves).",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": '{"2": "number unreachable"}',
                        "default": None,
                    },
                },
            }
        },
        # The send task's "SMS campaign" button (the plugin's view; yxt_provider/plugins).
        "extra-links": ["yxt_provider.operators.links.SmsCampaignLink"],
        # MessageQueueTrigger(scheme="yxt"), for apache-airflow-providers-common-messaging.
        "queues": ["yxt_provider.queues.yxt.YxtMessageQueueProvider"],
        "notifications": [
            "yxt_provider.notifications.sms.YxtSmsNotifier",
            "yxt_provider.notifications.approval.YxtSmsApprovalNotifier",
        ],
        "connection-types": [
            {
                "hook-class-name": HOOK_CLASS_NAME,
                "hook-name": INTEGRATION_NAME,
                "connection-type": CONNECTION_TYPE,
                "conn-fields": copy.deepcopy(YXT_CONN_FIELDS),
                "ui-field-behaviour": copy.deepcopy(YXT_UI_FIELD_BEHAVIOUR),
            }
        ],
    }

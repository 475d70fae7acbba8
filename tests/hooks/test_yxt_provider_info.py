"""``get_provider_info``: its shape, Airflow's schemas, and what the ``airflow`` CLI shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import airflow
import jsonschema
import pytest

from yxt_provider import __version__
from yxt_provider.get_provider_info import get_provider_info

AIRFLOW_BIN = Path(sys.executable).with_name("airflow")


def test_shape() -> None:
    info = get_provider_info()
    assert info["package-name"] == "yxt-provider"
    assert info["name"]
    assert info["description"]
    assert info["versions"] == [__version__]
    assert info["hooks"][0]["python-modules"][0] == "yxt_provider.hooks.yxt"
    assert [i["integration-name"] for i in info["integrations"]] == ["YXT SMS"]
    for key in ("operators", "sensors", "triggers", "notifications"):
        assert isinstance(info[key], list)
    (conn_type,) = info["connection-types"]
    assert conn_type["hook-class-name"] == "yxt_provider.hooks.yxt.YxtHook"
    assert conn_type["connection-type"] == "yxt"
    assert conn_type["hook-name"] == "YXT SMS"
    assert "sp_code" in conn_type["conn-fields"]
    assert conn_type["ui-field-behaviour"]["relabeling"]["login"] == "App key"
    assert conn_type["conn-fields"]["sp_code"]["label"] == "Enterprise code (x-sp-code)"


def test_every_listed_module_and_class_imports() -> None:
    import importlib

    info = get_provider_info()
    modules = [
        m
        for key in ("hooks", "operators", "sensors", "triggers")
        for e in info[key]
        for m in e["python-modules"]
    ]
    assert "yxt_provider.operators.sms" in modules
    for module in modules:
        importlib.import_module(module)
    for path in info["notifications"]:
        module, _, name = path.rpartition(".")
        assert hasattr(importlib.import_module(module), name)


def test_returns_fresh_copies() -> None:
    info = get_provider_info()
    info["connection-types"][0]["conn-fields"]["sp_code"]["label"] = "changed"
    assert get_provider_info()["connection-types"][0]["conn-fields"]["sp_code"]["label"] != "changed"


def _airflow_schema(name: str) -> dict[str, Any]:
    return json.loads((Path(airflow.__file__).parent / name).read_text())  # type: ignore[no-any-return]


def test_valid_against_airflow_schemas() -> None:
    info = get_provider_info()
    jsonschema.validate(info, _airflow_schema("provider_info.schema.json"))
    behaviour = info["connection-types"][0]["ui-field-behaviour"]
    jsonschema.validate(
        {
            "hidden_fields": behaviour["hidden-fields"],
            "relabeling": behaviour["relabeling"],
            "placeholders": behaviour["placeholders"],
        },
        _airflow_schema("customized_form_field_behaviours.schema.json"),
    )
    for name, field in info["connection-types"][0]["conn-fields"].items():
        jsonschema.Draft7Validator.check_schema(field["schema"])
        assert field["label"], name
        assert field["description"], name


def test_conn_fields_defaults_are_valid_for_their_schema() -> None:
    for field in get_provider_info()["connection-types"][0]["conn-fields"].values():
        if "default" in field["schema"]:
            jsonschema.validate(field["schema"]["default"], field["schema"])


def test_importing_provider_info_imports_no_airflow() -> None:
    code = (
        "import sys\n"
        "from yxt_provider.get_provider_info import get_provider_info\n"
        "get_provider_info()\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'requests'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_providers_manager_sees_hook_and_form() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "yxt-provider" in manager.providers
    try:  # Airflow 3.2+: hooks come from the task SDK's runtime manager
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks["yxt"]
    except ImportError:  # pragma: no cover
        hook = manager.hooks["yxt"]
    assert hook is not None
    assert hook.hook_class_name == "yxt_provider.hooks.yxt.YxtHook"
    assert hook.connection_id_attribute_name == "yxt_conn_id"
    assert hook.hook_name == "YXT SMS"
    widgets = manager.connection_form_widgets
    assert "extra__yxt__sp_code" in widgets
    assert widgets["extra__yxt__sp_code"].field["schema"]["title"] == "Enterprise code (x-sp-code)"
    behaviour = manager.field_behaviours["yxt"]
    assert behaviour["hidden_fields"] == ["schema"]
    assert behaviour["relabeling"]["host"] == "Send base URL"
    assert behaviour["placeholders"]["extra__yxt__sp_code"] == "100001"


def _run_airflow_cli(commands: list[list[str]], home: Path) -> list[Any]:
    """Run ``airflow <command> --output json`` for each command, concurrently (each takes seconds)."""
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    procs = [
        subprocess.Popen(
            [str(AIRFLOW_BIN), *args, "--output", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    results = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, f"airflow {' '.join(args)}: {err[-2000:]}"
        results.append(json.loads(out))
    return results


@pytest.mark.skipif(not AIRFLOW_BIN.exists(), reason="the airflow CLI is not installed beside this Python")
def test_airflow_cli_lists_provider_and_connection_type(tmp_path: Path) -> None:
    # An (empty) airflow.cfg up front, so the concurrent commands do not race to write the default one.
    (tmp_path / "airflow.cfg").write_text("")
    providers, details, hooks = _run_airflow_cli(
        [["providers", "list"], ["providers", "get", "yxt-provider"], ["providers", "hooks"]], tmp_path
    )
    ours = [p for p in providers if p["package_name"] == "yxt-provider"]
    assert ours and ours[0]["version"] == __version__

    assert details == [{"Provider": "yxt-provider", "Version": __version__}]

    assert {
        "connection_type": "yxt",
        "class": "yxt_provider.hooks.yxt.YxtHook",
        "conn_id_attribute_name": "yxt_conn_id",
        "package_name": "yxt-provider",
        "hook_name": "YXT SMS",
    } in hooks


def test_airflow_3_ui_connection_form_metadata() -> None:
    """What the Airflow 3 UI's connection form is built from (``/ui/connections/hook_meta``)."""
    services = pytest.importorskip("airflow.api_fastapi.core_api.services.ui.connections")
    (meta,) = [m for m in services.HookMetaService.hook_meta_data() if m.connection_type == "yxt"]
    assert meta.hook_name == "YXT SMS"
    assert meta.hook_class_name == "yxt_provider.hooks.yxt.YxtHook"
    standard = meta.standard_fields
    assert standard.url_schema.hidden is True
    assert (standard.host.title, standard.host.placeholder) == (
        "Send base URL",
        "https://sms.example.com:8080",
    )
    assert standard.login.title == "App key"
    assert standard.password.title == "App secret"
    assert standard.port.hidden is False
    extra = meta.extra_fields
    assert set(extra) == set(get_provider_info()["connection-types"][0]["conn-fields"])
    assert extra["sp_code"]["schema"]["title"] == "Enterprise code (x-sp-code)"
    assert extra["max_in_flight"]["value"] == 4
    assert extra["templates"]["schema"]["type"] == ["array", "null"]

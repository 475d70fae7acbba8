"""pyproject.toml's dependencies: every third-party import is declared, and the lower bounds
are the versions scripts/test-min-deps.sh tests on (requirements/min-versions.txt)."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from types import ModuleType

from tests.test_layers import PACKAGE, imports_of

ROOT = PACKAGE.parent
# Imported without being a dependency of ours, each for a reason:
NOT_DECLARED = {
    # Declared through apache-airflow (the module belongs to apache-airflow-core and the task SDK).
    "airflow": "apache-airflow",
    # Only in YxtHook.get_connection_form_widgets, which only Airflow 3.1's API server calls,
    # where the FAB provider installs them.
    "flask_appbuilder": "Airflow 3.1's web UI",
    "flask_babel": "Airflow 3.1's web UI",
    "wtforms": "Airflow 3.1's web UI",
    # Only in the pytest plugin (yxt_provider.sandbox.pytest_plugin), loaded by pytest itself.
    "pytest": "pytest",
}


def load_checker() -> ModuleType:
    """scripts/check_min_versions.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "check_min_versions", ROOT / "scripts" / "check_min_versions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def declared_distributions() -> set[str]:
    """Normalised names of pyproject.toml's ``[project] dependencies``."""
    checker = load_checker()
    return set(checker.read_lower_bounds())


def third_party_imports() -> set[str]:
    """Top-level names of the non-standard-library modules yxt_provider imports anywhere."""
    tops = {module.split(".")[0] for path in PACKAGE.rglob("*.py") for module in imports_of(path)}
    return {top for top in tops if top and top not in sys.stdlib_module_names and top != "yxt_provider"}


def test_every_third_party_import_is_a_declared_dependency() -> None:
    checker = load_checker()
    declared = declared_distributions()
    owners = metadata.packages_distributions()
    undeclared = []
    for top in sorted(third_party_imports() - set(NOT_DECLARED)):
        # A module not installed here (tomli on Python 3.11+) is named like its distribution.
        names = {checker.normalize(name) for name in owners.get(top, [top])}
        if not names & declared:
            undeclared.append(f"{top} (from {', '.join(sorted(names))})")
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


def test_the_import_scan_sees_the_libraries_the_client_and_ledger_use() -> None:
    assert {"requests", "pendulum", "tenacity", "sqlalchemy", "jinja2", "rich"} <= third_party_imports()


def test_min_versions_are_pyprojects_lower_bounds() -> None:
    checker = load_checker()
    pins = checker.read_pins()
    assert checker.mismatches(pins, checker.read_lower_bounds()) == []
    assert set(checker.REQUIRED) <= set(pins)


def test_a_drifted_bound_is_reported() -> None:
    checker = load_checker()
    bounds = {"requests": "2.32", "pendulum": "3.0", "tenacity": "8.2", "sqlalchemy": "2.0.0", "rich": None}
    pins = {"requests": "2.31.0", "pendulum": "3.0.0", "sqlalchemy": "2.0", "rich": "13.6.0", "six": "1.0"}
    assert checker.mismatches(pins, bounds) == [
        "tenacity: not pinned in min-versions.txt",
        "requests==2.31.0: pyproject.toml says requests>=2.32",
        "rich==13.6.0: pyproject.toml says rich without a >= bound",
        "six==1.0: not a dependency in pyproject.toml",
    ]


def test_the_checker_reads_bounds_behind_markers() -> None:
    bounds = load_checker().read_lower_bounds()
    assert bounds["tomli"] == "2.0"  # "tomli>=2.0; python_version < '3.11'"
    assert bounds["apache-airflow"] == "3.1.0"

"""The package's layers (docs/architecture.md) hold: each part imports only what it may.

Read from the source, every import statement counts, also those inside functions (lazy
imports are still dependencies), and ``TYPE_CHECKING``-only imports too, except where a
rule says otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import yxt_provider

PACKAGE = Path(yxt_provider.__file__).parent

# Part of the package → the parts of the package it may import (besides itself), and whether
# Airflow is allowed. A part is a subpackage or a top-level module, by its path.
RULES: dict[str, tuple[frozenset[str], bool]] = {
    "_lazy.py": (frozenset(), False),
    "client": (frozenset(), False),
    "connection.py": (frozenset({"client", "get_provider_info.py"}), False),
    "get_provider_info.py": (frozenset(), False),
    "ledger": (frozenset({"client"}), False),
    "campaign": (frozenset({"client", "ledger"}), False),
    "receipts": (frozenset({"client", "ledger"}), False),
    "replies": (frozenset({"client", "ledger"}), False),
    "alerting": (frozenset({"client", "campaign"}), False),
    "sandbox": (frozenset({"client"}), False),
}


# Helpers every part may use.
SHARED = ("_lazy.py",)


def part_of(module: str) -> str | None:
    """``yxt_provider.ledger.store`` → ``ledger``; ``yxt_provider.connection`` → ``connection.py``."""
    names = module.split(".")
    if names[0] != "yxt_provider" or len(names) < 2:
        return None
    first = names[1]
    return first if (PACKAGE / first).is_dir() else f"{first}.py"


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> set[str]:
    """Every module the Python ``source`` of a module in ``package`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def files_of(part: str) -> list[Path]:
    target = PACKAGE / part
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize("part", sorted(RULES))
def test_layer_imports_only_what_it_may(part: str) -> None:
    allowed, airflow_ok = RULES[part]
    broken = []
    for path in files_of(part):
        for module in sorted(imports_of(path)):
            if module == "airflow" or module.startswith("airflow."):
                if not airflow_ok:
                    broken.append(f"{path.relative_to(PACKAGE)} imports {module}")
                continue
            other = part_of(module)
            if other is not None and other not in (part, *SHARED) and other not in allowed:
                broken.append(f"{path.relative_to(PACKAGE)} imports {module} ({other} is not allowed)")
    assert not broken, "\n".join(broken)


def test_every_part_has_a_rule_or_is_an_airflow_shell() -> None:
    shells = {
        "hooks",
        "operators",
        "sensors",
        "triggers",
        "notifications",
        "queues",
        "plugins",
        "__init__.py",
    }
    parts = {
        p.name
        for p in PACKAGE.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    assert parts - shells - set(RULES) == set()


def test_the_checker_sees_lazy_relative_and_type_checking_imports() -> None:
    source = """
from typing import TYPE_CHECKING
from ..hooks import yxt
if TYPE_CHECKING:
    from airflow.sdk import Context
def later():
    import yxt_provider.operators.sms
"""
    found = imports_in(source, "yxt_provider.ledger")
    assert {
        "yxt_provider.hooks",
        "yxt_provider.hooks.yxt",
        "airflow.sdk",
        "yxt_provider.operators.sms",
    } <= found
    assert part_of("yxt_provider.hooks.yxt") == "hooks"
    assert part_of("yxt_provider.get_provider_info") == "get_provider_info.py"
    assert part_of("airflow.sdk") is None

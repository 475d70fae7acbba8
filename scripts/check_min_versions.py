"""Check that requirements/min-versions.txt pins exactly the lower bounds in pyproject.toml.

scripts/test-min-deps.sh tests the package on the versions in min-versions.txt; this check
keeps those from drifting away from the ``>=`` bounds users are promised. Every pinned
package must be a ``[project] dependencies`` entry whose lower bound is the pinned version,
and :data:`REQUIRED` must all be pinned.

``--installed`` also checks that the running interpreter has exactly those versions
installed (pip could have resolved something else than asked).

Runs on the standard library alone on Python 3.11+ (``tomllib``), so it needs no venv.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 has no tomllib; tomli is its backport (a dependency there)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
MIN_VERSIONS = ROOT / "requirements" / "min-versions.txt"
#: The libraries the client and ledger are written against (issue 13): always tested at their bound.
REQUIRED = ("requests", "pendulum", "tenacity", "sqlalchemy")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")
# name[extras]>=version[,other specifiers][; marker]
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*([^;]*)")


def normalize(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = MIN_VERSIONS) -> dict[str, str]:
    """``name -> version`` from the ``name==version`` lines of ``path`` (comments and blanks skipped)."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.match(line)
        if match is None:
            raise SystemExit(f"{path.name}:{number}: expected name==version, got {raw!r}")
        pins[normalize(match.group(1))] = match.group(2)
    return pins


def read_lower_bounds(path: Path = PYPROJECT) -> dict[str, str | None]:
    """``name -> lower bound`` (``None`` when there is no ``>=``) of ``[project] dependencies``."""
    dependencies = tomllib.loads(path.read_text(encoding="utf-8"))["project"]["dependencies"]
    bounds: dict[str, str | None] = {}
    for requirement in dependencies:
        match = _REQUIREMENT.match(requirement.strip())
        if match is None:
            raise SystemExit(f"pyproject.toml: cannot read dependency {requirement!r}")
        lower = [s.strip()[2:].strip() for s in match.group(2).split(",") if s.strip().startswith(">=")]
        bounds[normalize(match.group(1))] = lower[0] if lower else None
    return bounds


def same_version(a: str, b: str) -> bool:
    """``a`` and ``b`` name one release (PEP 440: ``2.31`` is ``2.31.0``)."""

    def release(version: str) -> tuple[str, ...]:
        parts = version.split(".")
        while len(parts) > 1 and parts[-1] == "0":
            parts.pop()
        return tuple(parts)

    return release(a) == release(b)


def mismatches(pins: dict[str, str], bounds: dict[str, str | None]) -> list[str]:
    """Every disagreement between the pins and pyproject's bounds, as readable lines."""
    problems = [f"{name}: not pinned in {MIN_VERSIONS.name}" for name in REQUIRED if name not in pins]
    for name, version in pins.items():
        if name not in bounds:
            problems.append(f"{name}=={version}: not a dependency in pyproject.toml")
        elif bounds[name] is None or not same_version(str(bounds[name]), version):
            shown = f"{name}>={bounds[name]}" if bounds[name] else f"{name} without a >= bound"
            problems.append(f"{name}=={version}: pyproject.toml says {shown}")
    return problems


def installed_mismatches(pins: dict[str, str]) -> list[str]:
    """Pinned packages whose installed version (in this interpreter) is another one."""
    problems = []
    for name, version in pins.items():
        try:
            found = metadata.version(name)
        except metadata.PackageNotFoundError:
            found = "not installed"
        if found != version:
            problems.append(f"{name}: wanted {version}, installed {found}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Print the mismatches and return 1 if there are any, else 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installed", action="store_true", help="also check the installed versions")
    args = parser.parse_args(argv)
    pins = read_pins()
    problems = mismatches(pins, read_lower_bounds())
    if args.installed:
        problems += installed_mismatches(pins)
    for problem in problems:
        print(f"check_min_versions: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The docs' Sphinx extensions (``docs/_ext``) importable by the tests; skipped without Sphinx.

Sphinx, MyST and Furo come with the ``dev`` extra (``scripts/setup.sh`` installs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXTENSIONS = DOCS / "_ext"

for _needed in ("sphinx", "myst_parser", "furo"):
    pytest.importorskip(_needed, reason=f"{_needed} is in the dev extra: pip install -e '.[dev]'")

if str(EXTENSIONS) not in sys.path:
    sys.path.insert(0, str(EXTENSIONS))

"""The documentation builds with every warning an error, and shows what the code says.

The build is the command the docs' own pages give (``sphinx-build -W --keep-going -n``), run
in a fresh process on this tree, into a temporary directory. Its stderr is the failure
message: each warning names the page or docstring at fault.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.docs.conftest import DOCS, ROOT


@pytest.fixture(scope="module")
def html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html"]
    command += ["-d", str(out / "doctrees"), str(DOCS), str(out / "html")]
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, check=False)
    warnings = "\n".join(line for line in result.stderr.splitlines() if "WARNING" in line or "ERROR" in line)
    assert result.returncode == 0, f"the docs build failed:\n{warnings or result.stderr[-4000:]}"
    print(f"docs built in {time.monotonic() - started:.1f} s")
    return out / "html"


def test_every_page_is_built(html: Path) -> None:
    pages = {path.stem for path in DOCS.glob("*.md")}
    assert pages <= {path.stem for path in html.glob("*.html")}


def test_troubleshooting_lists_every_result_code(html: Path) -> None:
    from yxt_provider.client.errors import ERRORS_BY_CODE

    text = (html / "troubleshooting.html").read_text(encoding="utf-8")
    for code, cls in ERRORS_BY_CODE.items():
        assert f">{code}<" in text and cls.__name__ in text and cls.meaning in text


def test_connection_page_lists_every_extra(html: Path) -> None:
    from yxt_provider.get_provider_info import YXT_CONN_FIELDS

    text = (html / "connection.html").read_text(encoding="utf-8")
    for name, spec in YXT_CONN_FIELDS.items():
        assert f">{name}<" in text and spec["label"] in text


def test_api_reference_documents_every_public_module(html: Path) -> None:
    from yxt_sphinx.api import all_public_modules

    text = "".join(path.read_text(encoding="utf-8") for path in (html / "api").glob("*.html"))
    for module in all_public_modules("yxt_provider"):
        assert f'id="module-{module}"' in text, module


def test_examples_come_from_the_example_dags(html: Path) -> None:
    # An included example shows the DAG's own comment lines; a marker itself is never shown.
    sending = (html / "sending.html").read_text(encoding="utf-8")
    assert "share a request, so 500 patients are 18 requests" in sending
    assert "[START" not in sending and "[END" not in sending

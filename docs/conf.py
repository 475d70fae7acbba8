"""Sphinx configuration of the yxt-provider documentation.

Build (what ``tests/docs/test_build.py`` runs, with every warning an error)::

    sphinx-build -W --keep-going -n -b html docs docs/_build/html

The pages are Markdown (MyST); the API reference pages are reST, because autodoc writes reST.
Nothing is fetched at build time: no intersphinx, no remote images.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
# autodoc imports the package from this tree, not from wherever the virtualenv points.
sys.path.insert(0, str(DOCS.parent))
# Importing the operators imports Airflow, which creates files under AIRFLOW_HOME: keep a
# docs build away from a developer's ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", str(DOCS / "_build" / ".airflow-home"))

import yxt_provider  # noqa: E402 - needs the path set above

project = "yxt-provider"
author = "yxt-provider developers"
copyright = "yxt-provider developers"
release = yxt_provider.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    # Each job of the docs build is one small extension in docs/_ext/yxt_sphinx/.
    "yxt_sphinx.api",  # the API reference: a directive per package; every public module in it
    "yxt_sphinx.docstrings",  # a public class or function without a docstring fails the build
    "yxt_sphinx.result_codes",  # the troubleshooting tables, from the error classes
    "yxt_sphinx.connection",  # the connection's field tables, from get_provider_info
    "yxt_sphinx.ledger",  # the ledger's views, tables and migrations, from the schema
    "yxt_sphinx.xrefs",  # references resolve through re-exports and imports, as in Python
    "yxt_sphinx.values",  # readable dataclass defaults; no object reprs as constant values
]
yxt_api_package = "yxt_provider"

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]

# MyST: ``{literalinclude}`` and the other directives in fenced blocks; headings get anchors
# (``page.md#the-ledger``) down to level 3, so links into sections keep working.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Nitpicky: every cross-reference to this package must resolve. Without intersphinx (the
# build has no network), references to other projects' objects cannot resolve; they are
# ignored by namespace here, and only those.
nitpicky = True
_OTHER_PROJECTS = (
    "airflow|sqlalchemy|requests|tenacity|pendulum|fastapi|uvicorn|starlette|jinja2|pydantic|pytest|_pytest|"
    # the standard library
    "builtins|collections|datetime|typing|contextlib|os|re|pathlib|asyncio|concurrent|threading|enum|"
    "io|csv|types|logging|socket|ssl|json|decimal|argparse|dataclasses|abc"
)
nitpick_ignore_regex = [
    (r"py:.*", rf"({_OTHER_PROJECTS})(\..*)?"),
    # Built-in types, which intersphinx would link to Python's docs.
    (r"py:.*", r"(bool|bytes|dict|float|int|list|object|set|frozenset|str|tuple|type|None|Ellipsis|\.\.\.)"),
    # Other projects' names written as the annotation says, without their module
    # (imports under ``TYPE_CHECKING``).
    (
        r"py:.*",
        r"(Context|Engine|Connection|Dialect|TypeDecorator|ExternalType|Select|ColumnElement|Table|"
        r"Insert|MetaData|URL|TriggerEvent|BaseEventTrigger|PokeReturnValue|ObjectStoragePath|timedelta|"
        r"datetime|Path|PathLike|Pattern|Any)",
    ),
    # Private names in annotations (a protocol, a type variable): not part of the API reference.
    (r"py:.*", r"(yxt_provider\.)?([\w.]+\.)?_\w+"),
]

# autodoc: signatures keep their annotations; the class docstring (with its :param: lines)
# documents the constructor; a docstring inherited from Airflow or SQLAlchemy is not ours
# and would bring their cross-references, which cannot resolve here.
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
autoclass_content = "class"
autodoc_inherit_docstrings = False
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

html_theme = "furo"
html_title = f"yxt-provider {release}"
html_static_path: list[str] = []
html_show_sourcelink = False

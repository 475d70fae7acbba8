"""A public class or function without a docstring fails the docs build, naming it.

Proved twice: on fake objects (the rule), and by building a throw-away Sphinx project with
``-W`` (the build really fails, and the message names each object).
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

from yxt_sphinx.docstrings import needs_docstring, own_docstring

from tests.docs.conftest import EXTENSIONS


def documented() -> None:
    """Has a docstring."""


def undocumented() -> None:
    pass


class Widget:
    """A documented class with an undocumented method."""

    def spin(self) -> None:
        pass

    @property
    def size(self) -> int:
        """A documented property."""
        return 1


@dataclasses.dataclass
class Plain:
    value: int


class Pair(NamedTuple):
    left: int
    right: int


def test_the_rule_on_fake_objects() -> None:
    assert not needs_docstring("function", f"{__name__}.documented", documented)
    assert needs_docstring("function", f"{__name__}.undocumented", undocumented)
    assert needs_docstring("method", f"{__name__}.Widget.spin", Widget.spin)
    assert not needs_docstring("property", f"{__name__}.Widget.size", vars(Widget)["size"])
    assert not needs_docstring("class", f"{__name__}.Widget", Widget)
    # Python writes "Plain(value: int)" for a dataclass without a docstring: not documentation.
    assert needs_docstring("class", f"{__name__}.Plain", Plain)
    assert needs_docstring("class", f"{__name__}.Pair", Pair)
    assert own_docstring(Plain) == ""


def test_private_reexported_and_unchecked_objects_pass() -> None:
    assert not needs_docstring("function", f"{__name__}._helper", undocumented)
    assert not needs_docstring("method", f"{__name__}._Hidden.spin", Widget.spin)
    # Re-exported under another module's name: checked where it is defined.
    assert not needs_docstring("function", "somewhere.else.undocumented", undocumented)
    # Constants and attributes have no docstring of their own in Python.
    assert not needs_docstring("data", f"{__name__}.LIMIT", 10)


FAKE_MODULE = '''
"""A module with one documented function and gaps."""

__all__ = ["Gadget", "documented", "forgotten"]


def documented():
    """Has one."""


def forgotten():
    return 1


def not_exported():
    return 2


def _private():
    return 3


class Gadget:
    """A documented class."""

    def turn(self):
        return 4

    def _internal(self):
        return 5
'''

SECOND_MODULE = '''
"""Documented with :undoc-members:, so autodoc shows the gap instead of skipping it."""


def bare():
    pass
'''

INDEX = """
Fake
====

.. automodule:: fakemod
   :members:

.. automodule:: fakemod_undoc
   :members:
   :undoc-members:
"""


def test_a_throwaway_project_fails_naming_each_undocumented_object(tmp_path: Path) -> None:
    (tmp_path / "fakemod.py").write_text(FAKE_MODULE, encoding="utf-8")
    (tmp_path / "fakemod_undoc.py").write_text(SECOND_MODULE, encoding="utf-8")
    (tmp_path / "index.rst").write_text(INDEX, encoding="utf-8")
    (tmp_path / "conf.py").write_text(
        textwrap.dedent(f"""
            import sys
            sys.path[:0] = [{str(EXTENSIONS)!r}, {str(tmp_path)!r}]
            extensions = ["sphinx.ext.autodoc", "yxt_sphinx.docstrings"]
        """),
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d"]
    command += [str(tmp_path / "doctrees"), str(tmp_path), str(tmp_path / "html")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    assert result.returncode != 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    named = sorted(line.split("WARNING: ")[1].split(" [")[0] for line in warnings)
    assert named == [
        "fakemod.Gadget.turn: public method has no docstring",
        "fakemod.forgotten: public function has no docstring",
        "fakemod_undoc.bare: public function has no docstring",
    ], result.stderr

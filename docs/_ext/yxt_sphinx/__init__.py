"""Sphinx extensions of the yxt-provider docs, one job each.

- :mod:`yxt_sphinx.api` — the ``yxt-api`` directive (a package's modules, documented by
  autodoc) and the check that every public module is in the API reference;
- :mod:`yxt_sphinx.docstrings` — a public class or function without a docstring is a warning;
- :mod:`yxt_sphinx.result_codes` — the troubleshooting tables, from the error classes;
- :mod:`yxt_sphinx.connection` — the connection's field and extra tables, from
  ``get_provider_info``.

Each table directive computes its rows in a plain function (tested without Sphinx) and checks
that the notes written in the page name only things that exist, so page and code cannot drift.
"""

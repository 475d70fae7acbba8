"""``python -m yxt_provider.sandbox``: same as the ``yxt-sandbox`` command."""

from yxt_provider.sandbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

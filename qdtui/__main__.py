"""`qdtui` entry point."""

from __future__ import annotations


def run() -> None:
    """Start the app (arguments parsed in qdtui.app)."""
    from qdtui.app import main

    main()


if __name__ == "__main__":
    run()

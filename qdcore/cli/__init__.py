"""The `qd` command line (Typer + Rich). The only part of qdcore allowed UI imports."""

"""Typer sub-apps of the `fashionlens` command line (registered in ``fashionlens.cli``)."""

"""The REST API (FastAPI). The only package that imports the web framework."""

from fashionlens.api.app import create_app

__all__ = ["create_app"]

"""Floor 6: assembles every domain into one ASGI application."""

from openmyna.app.factory import create_app

__all__ = ["create_app"]

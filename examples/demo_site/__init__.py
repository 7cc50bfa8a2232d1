"""A demo customer site: its own sign-in, a backend that asks Chatframe for embed codes."""

from .app import DemoConfig, create_demo_app

__all__ = ["DemoConfig", "create_demo_app"]

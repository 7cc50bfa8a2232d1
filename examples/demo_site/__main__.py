"""Run the demo customer site: ``python -m examples.demo_site`` (configured by environment)."""

from __future__ import annotations

import os

from .app import DemoConfig, create_demo_app

if __name__ == "__main__":
    config = DemoConfig.from_env()
    port = int(os.environ.get("DEMO_PORT", "5001"))
    create_demo_app(config).run(host="127.0.0.1", port=port, threaded=True)

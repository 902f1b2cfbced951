"""Production web server: gunicorn with threaded workers around :func:`create_app`."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):
    """Runs the Deskpilot app under gunicorn without a config file."""

    def __init__(self, options: dict[str, Any]):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        assert self.cfg is not None
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from plugin.app import create_app

        return create_app()


def serve(host: str, port: int, workers: int = 2, threads: int = 4) -> None:
    GunicornServer({
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "loglevel": "warning",
        # the app is built in each worker after fork: no shared DB connections
        "preload_app": False,
    }).run()

"""Registers the reports API, the dashboard and ``/metrics`` on the application."""

from __future__ import annotations

from flask import Flask


def register_reports(app: Flask) -> None:
    from plugin.reports import api, dashboard, metrics

    app.register_blueprint(api.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(metrics.bp)

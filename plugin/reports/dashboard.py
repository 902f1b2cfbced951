"""``/dashboard``: server-rendered KPI tiles, weekly trend, breach and stuck lists, credits.

Sign in once with ``/dashboard?token=<admin token>`` (the token is swapped for a cookie and
removed from the address bar) or with the login form. The cookie holds an HMAC of the
token, never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from plugin.auth import token_ok
from plugin.reports.chart import trend_svg
from plugin.reports.kpis import BY_KEY
from plugin.reports.report import fmt, fmt_target
from plugin.reports.service import PeriodError, report_for
from plugin.settings import Settings
from plugin.storage.db import utcnow

ROOT = Path(__file__).resolve().parent.parent
bp = Blueprint("dashboard", __name__, template_folder=str(ROOT / "templates"),
               static_folder=str(ROOT / "static"), static_url_path="/dashboard/static")
COOKIE = "deskpilot_dashboard"
TILES = ("within_1_day", "within_1_hour", "on_time", "first_time_resolution",
         "first_response_median", "first_response_p90", "messages_per_ticket",
         "csat_satisfied", "csat_avg", "nps", "solved_per_specialist_day", "stuck")


@bp.app_template_filter("dp_local")
def dp_local(value: str | None) -> str:
    """An ISO instant as local ``YYYY-MM-DD HH:MM`` in the installation's zone."""
    if not value:
        return ""
    tz = current_app.extensions["deskpilot"].settings.tz
    return datetime.fromisoformat(value).astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"deskpilot-dashboard", hashlib.sha256).hexdigest()


def _signed_in(settings: Settings) -> bool:
    got = request.cookies.get(COOKIE, "")
    hits = [hmac.compare_digest(got, _cookie_value(str(t))) for t in settings.admin_tokens]
    return bool(got) and any(hits)


def _sign_in(token: str, target: str) -> Response:
    resp = make_response(redirect(target))
    resp.set_cookie(COOKIE, _cookie_value(token), httponly=True, samesite="Strict",
                    secure=request.is_secure, max_age=12 * 3600, path="/dashboard")
    return resp


#: the sign-in page when no token could ever match (a first run without ``deskpilot up``)
NO_TOKEN = ("No admin token is configured: set admin_tokens in config/deskpilot.yaml or "
            "DESKPILOT_ADMIN_TOKEN (`deskpilot up` generates one and prints the dashboard URL).")


def _token_error(settings: Any) -> str:
    return "Unknown token" if settings.admin_tokens else NO_TOKEN


@bp.route("/dashboard/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form (POST checks the admin token)."""
    settings = current_app.extensions["deskpilot"].settings
    if request.method == "POST":
        token = request.form.get("token", "")
        if token_ok(settings, token):
            return _sign_in(token, url_for("dashboard.dashboard"))
        # a token was given and is wrong: 403 (401 is for no credentials at all)
        code = 403 if token else 401
        return render_template("dashboard.html", login=True, error=_token_error(settings)), code
    return render_template("dashboard.html", login=True,
                           error=None if settings.admin_tokens else NO_TOKEN)


@bp.get("/dashboard/logout")
def logout() -> Response:
    resp = make_response(redirect(url_for("dashboard.login")))
    resp.delete_cookie(COOKIE, path="/dashboard")
    return resp


@bp.get("/dashboard")
def dashboard() -> Any:
    """The dashboard for ``from``/``to``/``company``/``manager`` (same defaults as the API)."""
    ctx = current_app.extensions["deskpilot"]
    token = request.args.get("token")
    if token is not None:
        args = {k: v for k, v in request.args.items() if k != "token"}
        if token_ok(ctx.settings, token):
            query = f"?{urlencode(args)}" if args else ""
            return _sign_in(token, url_for("dashboard.dashboard") + query)
        code = 403 if token else 401
        return render_template("dashboard.html", login=True,
                               error=_token_error(ctx.settings)), code
    if not _signed_in(ctx.settings):
        return redirect(url_for("dashboard.login"))
    now = utcnow()
    args = request.args
    try:
        with ctx.db.session() as session:
            report = report_for(session, ctx.settings, now, args.get("from") or None,
                                args.get("to") or None, args.get("company") or None,
                                args.get("manager") or None)
            balances = _balances(session, now, args.get("company") or None)
    except PeriodError as exc:
        return render_template("dashboard.html", login=False, report=None,
                               error=str(exc), args=args), 422
    tiles = [{"key": key, "label": BY_KEY[key].label, "value": fmt(report.kpis[key]),
              "target": fmt_target(report.kpis[key]), "ok": report.kpis[key].ok,
              "n": report.kpis[key].n} for key in TILES]
    return render_template(
        "dashboard.html", login=False, error=None, report=report, tiles=tiles,
        chart=trend_svg(report.trend, report.kpis["within_1_day"].target), args=args,
        balances=balances, fmt=fmt, period_to=_inclusive_end(report),
    )


def _inclusive_end(report: Any) -> str:
    last = report.end.astimezone(report.start.tzinfo) - timedelta(microseconds=1)
    return str(last.date().isoformat())


def _balances(session: Any, now: Any, company: str | None) -> list[dict[str, Any]]:
    from plugin.reports.credits import balances

    return balances(session, now, company)

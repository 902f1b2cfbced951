"""``/dashboard``: server-rendered KPI tiles, weekly trend, breach and stuck lists, credits.

Sign in once with ``/dashboard?token=<admin token>`` (the token is swapped for a cookie and
removed from the address bar) or with the login form. The cookie holds a server-side
session's random token (``plugin.web_sessions``), never the admin token: logout deletes the
session, so every copy of the cookie stops working. Wrong tokens are throttled per client
address (429). Every page is sent with anti-framing and no-store headers.
"""

from __future__ import annotations

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
from plugin.reports.attention import attention_list
from plugin.reports.chart import trend_svg
from plugin.reports.kpis import BY_KEY
from plugin.reports.report import fmt, fmt_target
from plugin.reports.service import PeriodError, report_for
from plugin.storage.db import utcnow
from plugin.web_sessions import SESSION_TTL, Throttle, create_session, revoke, session_for

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


#: sent with every dashboard answer: never framed (clickjacking), never cached
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@bp.after_request
def _page_headers(resp: Response) -> Response:
    for key, value in PAGE_HEADERS.items():
        resp.headers[key] = value
    return resp


#: the sign-in page when no token could ever match (a first run without ``deskpilot up``)
NO_TOKEN = ("No admin token is configured: set admin_tokens in config/deskpilot.yaml or "
            "DESKPILOT_ADMIN_TOKEN (`deskpilot up` generates one and prints the dashboard URL).")


def _token_error(settings: Any) -> str:
    return "Unknown token" if settings.admin_tokens else NO_TOKEN


def _signed_in(ctx: Any) -> bool:
    return session_for(ctx.db, request.cookies.get(COOKIE), "admin") is not None


def _sign_in(ctx: Any, target: str) -> Response:
    resp = make_response(redirect(target))
    resp.set_cookie(COOKIE, create_session(ctx.db, "admin"), httponly=True, samesite="Strict",
                    secure=request.is_secure, max_age=int(SESSION_TTL.total_seconds()),
                    path="/dashboard")
    return resp


def _refused(ctx: Any, token: str) -> Any:
    """A wrong (403) or missing (401) token; wrong ones count towards the throttle."""
    if token:
        Throttle.from_settings(ctx.settings).failed(ctx.db, request.remote_addr)
    code = 403 if token else 401
    return render_template("dashboard.html", login=True, error=_token_error(ctx.settings)), code


def _throttled(ctx: Any) -> Any:
    """429 while this address has had too many wrong sign-ins (None: go on)."""
    wait = Throttle.from_settings(ctx.settings).retry_after(ctx.db, request.remote_addr)
    if wait is None:
        return None
    return (render_template("dashboard.html", login=True,
                            error=f"Too many wrong sign-ins: try again in {wait} s"),
            429, {"Retry-After": str(wait)})


@bp.route("/dashboard/login", methods=["GET", "POST"])
def login() -> Any:
    """The sign-in form (POST checks the admin token)."""
    ctx = current_app.extensions["deskpilot"]
    if request.method == "POST":
        throttled = _throttled(ctx)
        if throttled is not None:
            return throttled
        token = request.form.get("token", "")
        if token_ok(ctx.settings, token):
            return _sign_in(ctx, url_for("dashboard.dashboard"))
        # a token was given and is wrong: 403 (401 is for no credentials at all)
        return _refused(ctx, token)
    return render_template("dashboard.html", login=True,
                           error=None if ctx.settings.admin_tokens else NO_TOKEN)


@bp.route("/dashboard/logout", methods=["GET", "POST"])
def logout() -> Response:
    """Sign out: the server-side session is deleted (every copy of the cookie dies)."""
    revoke(current_app.extensions["deskpilot"].db, request.cookies.get(COOKIE))
    resp = make_response(redirect(url_for("dashboard.login")))
    resp.delete_cookie(COOKIE, path="/dashboard")
    return resp


@bp.get("/dashboard")
def dashboard() -> Any:
    """The dashboard for ``from``/``to``/``company``/``manager`` (same defaults as the API)."""
    ctx = current_app.extensions["deskpilot"]
    token = request.args.get("token")
    if token is not None:
        throttled = _throttled(ctx)
        if throttled is not None:
            return throttled
        args = {k: v for k, v in request.args.items() if k != "token"}
        if token_ok(ctx.settings, token):
            query = f"?{urlencode(args)}" if args else ""
            return _sign_in(ctx, url_for("dashboard.dashboard") + query)
        return _refused(ctx, token)
    if not _signed_in(ctx):
        return redirect(url_for("dashboard.login"))
    now = utcnow()
    args = request.args
    try:
        with ctx.db.session() as session:
            report = report_for(session, ctx.settings, now, args.get("from") or None,
                                args.get("to") or None, args.get("company") or None,
                                args.get("manager") or None)
            balances = _balances(session, now, args.get("company") or None)
            attention = attention_list(session, now, args.get("company") or None)
            refused = _refused_writes(session, args.get("company") or None)
    except PeriodError as exc:
        return render_template("dashboard.html", login=False, report=None,
                               error=str(exc), args=args), 422
    tiles = [{"key": key, "label": BY_KEY[key].label, "value": fmt(report.kpis[key]),
              "target": fmt_target(report.kpis[key]), "ok": report.kpis[key].ok,
              "n": report.kpis[key].n} for key in TILES]
    return render_template(
        "dashboard.html", login=False, error=None, report=report, tiles=tiles,
        chart=trend_svg(report.trend, report.kpis["within_1_day"].target), args=args,
        balances=balances, fmt=fmt, period_to=_inclusive_end(report), attention=attention,
        refused=refused, zone=ctx.settings.timezone,
    )


def _inclusive_end(report: Any) -> str:
    last = report.end.astimezone(report.start.tzinfo) - timedelta(microseconds=1)
    return str(last.date().isoformat())


def _balances(session: Any, now: Any, company: str | None) -> list[dict[str, Any]]:
    from plugin.reports.credits import balances

    return balances(session, now, company)


def _refused_writes(session: Any, company: str | None) -> list[dict[str, Any]]:
    """Writes the host refused and nobody resent or discarded yet (issue 15)."""
    from plugin.outbox.refusals import list_refused

    rows = list_refused(session, company=company, limit=15)
    return [{**r.as_dict(), "failed_at": r.failed_at.isoformat() if r.failed_at else None}
            for r in rows]

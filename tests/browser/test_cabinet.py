"""The client cabinet in real headless Chromium after a scripted lifecycle (tests/
cabinet_support.py): what the client reads — deadlines in the company's zone, the paused
task, balance and lots, statement rows with running balance, the manager's next window —
in English and, switched on the page, in Ukrainian; and on a phone-wide screen.

Needs Debian's ``chromium`` and ``chromium-driver`` (as the dashboard's test). The
screenshot goes to ``artifacts/cabinet.png`` (``tests/browser/cabinet.png`` is the README's
copy).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from plugin.app import create_app
from plugin.context import Context, set_context
from tests.cabinet_support import NOW, helpdesk_ticket, issue_link, lifecycle, make_ctx
from tests.services import IN_CI

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def _driver(width: int, height: int) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="deskpilot-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.deskpilot_profile = profile
    return driver


@pytest.fixture
def browsers() -> Iterator[Any]:
    missing = [p for p in (CHROMIUM, DRIVER) if not Path(p).exists()]
    if missing:
        if IN_CI:
            pytest.fail(f"{missing} absent; CI=true requires chromium and chromium-driver")
        pytest.skip(f"{missing} absent (apt-get install chromium chromium-driver)")
    made: list[Any] = []

    def make(width: int, height: int) -> Any:
        made.append(_driver(width, height))
        return made[-1]

    try:
        yield make
    finally:
        for d in made:
            d.quit()
            shutil.rmtree(d.deskpilot_profile, ignore_errors=True)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Context]]:
    ctx = make_ctx(f"sqlite:///{tmp_path / 'cabinet.sqlite3'}", tmp_path)
    lifecycle(ctx)
    # and a ticket on the company's django-helpdesk, filed 09:00 New York, accepted 09:20
    helpdesk_ticket(ctx, 4, "olena+it@acme.example", datetime(2026, 11, 19, 14, tzinfo=UTC),
                    answered_at=datetime(2026, 11, 19, 14, 20, tzinfo=UTC))
    # the cabinet's clock is the lifecycle's "now" (deadlines and windows depend on it)
    monkeypatch.setattr("plugin.cabinet.web.utcnow", lambda: NOW)
    srv = make_server("127.0.0.1", 0, create_app(context=ctx), threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}", ctx
    finally:
        srv.shutdown()
        thread.join(5)
        set_context(None)
        ctx.close()


def _text(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def _task(driver: Any, ticket: str, css: str) -> str:
    return _text(driver, f'article[data-ticket="{ticket}"] {css}')


def test_cabinet_after_a_lifecycle_in_chromium(browsers: Any,
                                               server: tuple[str, Context]) -> None:
    from selenium.webdriver.common.by import By

    base, ctx = server
    token = issue_link(ctx, "acme")
    driver = browsers(1280, 1960)
    driver.get(f"{base}/cabinet/{token}")
    # acme's language is English (routing.companies.acme.language), its zone New York
    assert _text(driver, "#open h2").startswith("Open tasks")
    assert _text(driver, "#company") == "ACME Corp"
    assert _text(driver, "#zone") == "America/New_York"
    # deadlines in New York time, named (EST): the enhancement's is filing + its 4-hour estimate
    assert _task(driver, "T-3", ".resolve-due") == "2026-11-19 12:30 EST"
    assert _task(driver, "T-3", ".left") == "2 h 30 min"
    assert _task(driver, "T-3", ".logged") == "1 h 30 min / estimate 4 h 00 min"
    # the ticket as the host names it, linked to the page the client opens (not the agent view)
    assert _task(driver, "T-3", ".ref") == "#T-3"
    href = driver.find_element(By.CSS_SELECTOR, 'article[data-ticket="T-3"] a.ref')
    assert href.get_attribute("href") == "https://portal.example/r/T-3"
    assert _task(driver, "4", ".ref") == "support-4"
    href = driver.find_element(By.CSS_SELECTOR, 'article[data-ticket="4"] a.ref')
    assert href.get_attribute("href") == (
        "https://helpdesk.example/helpdesk/view/?ticket=support-4&email=olena%2Bit@acme.example")
    # waiting for the client: the clock stands, and the page says so
    assert _task(driver, "T-2", ".resolve-due").startswith("2026-11-19 16:00 EST")
    assert _task(driver, "T-2", ".left") == "14 h 00 min · paused: waiting for your reply"
    assert _task(driver, "T-2", ".type") == "composite · 2 units"
    # done late: resolved Tuesday, due Monday 17:00 New York
    assert _task(driver, "T-1", ".resolve-due") == "2026-11-16 17:00 EST"
    assert _task(driver, "T-1", ".verdict") == "late"
    assert _task(driver, "T-1", ".logged") == "45 min"
    assert _task(driver, "T-1", ".credits") == "−1"
    # credits: 30 bought, 10 burned at expiry, 1 debited; 5 reserved (T-2 x2, T-3, support-4 x2)
    assert (_text(driver, "#available"), _text(driver, "#reserved"),
            _text(driver, "#balance")) == ("14", "5", "19")
    lots = driver.find_elements(By.CSS_SELECTOR, "#lots tr.lot")
    assert [lot.get_attribute("data-lot") for lot in lots] == ["2", "3", "1"]
    assert "soon" in lots[0].get_attribute("class").split()
    assert lots[0].find_element(By.CSS_SELECTOR, ".expires").text == "2026-11-26 10:00 EST"
    assert lots[0].find_element(By.CSS_SELECTOR, ".remaining").text == "9"
    assert "expired" in lots[2].get_attribute("class").split()
    # the statement, newest first, with the balance after each entry
    rows = driver.find_elements(By.CSS_SELECTOR, "#statement tr.entry")
    kinds = [r.get_attribute("class").split()[1] for r in rows]
    assert kinds == ["kind-reserve", "kind-reserve", "kind-reserve", "kind-debit",
                     "kind-reserve", "kind-purchase", "kind-purchase", "kind-burn",
                     "kind-purchase"]
    running = [r.find_element(By.CSS_SELECTOR, ".running").text for r in rows]
    assert running == ["19", "19", "19", "19", "20", "20", "10", "0", "10"]
    assert [r.find_element(By.CSS_SELECTOR, ".ref").text for r in rows][:4] == [
        "support-4", "#T-3", "#T-2", "#T-1"]
    assert [r.find_element(By.CSS_SELECTOR, ".units").text for r in rows][3] == "-1"
    # each entry that moves credits in money, as the CLI statement values it
    assert [r.find_element(By.CSS_SELECTOR, ".amount").text for r in rows] == [
        "", "", "", "-350.00 UAH", "", "+3500.00 UAH", "+3500.00 UAH", "-3500.00 UAH",
        "+3500.00 UAH"]
    assert "globex" not in driver.page_source.lower()
    # olena (Kyiv, until 17:00 = 10:00 New York) has finished; Friday 08:00 Kyiv is 01:00 NY
    assert _text(driver, "#manager-name") == "olena"
    assert _text(driver, "#next-window") == "Next working window: 2026-11-20 01:00–07:00 EST"
    assert _text(driver, "#cap-usage") == "2 of 3 tasks today"
    week = driver.find_elements(By.CSS_SELECTOR, "#schedule li")
    assert [w.text for w in week[:3]] == [
        "Thu 11-19 01:00–05:00, 06:00–10:00", "Fri 11-20 01:00–07:00", "Sat 11-21 day off"]
    assert _text(driver, '[data-kpi="on_time"] .value') == "0.0%"
    # first replies 40 (T-1) and 20 (support-4) working minutes after filing
    assert _text(driver, '[data-kpi="first_response_median"] .value') == "30"
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    assert driver.save_screenshot(str(out / "cabinet.png"))

    # switched on the page: Ukrainian, same figures
    driver.find_element(By.CSS_SELECTOR, 'nav.lang a[lang="uk"]').click()
    assert "lang=uk" in driver.current_url
    assert _text(driver, "#open h2").startswith("Відкриті задачі")
    assert _task(driver, "T-2", ".left") == "14 год 00 хв · пауза: чекаємо на вашу відповідь"
    assert _text(driver, "#cap-usage") == "2 з 3 задач сьогодні"
    assert _text(driver, "#available") == "14"


def test_cabinet_fits_a_phone_screen(browsers: Any, server: tuple[str, Context]) -> None:
    base, ctx = server
    token = issue_link(ctx, "acme")
    phone = browsers(390, 844)
    phone.get(f"{base}/cabinet/{token}")
    assert _text(phone, "#available") == "14"
    # nothing but the tables' own scrolling boxes is wider than the screen
    width = phone.execute_script("return document.documentElement.scrollWidth")
    inner = phone.execute_script("return window.innerWidth")
    assert width <= inner, (width, inner)
    # and the statement and packages need no sideways scrolling either: their rows stack
    for box in ("#statement .scroll", "#lots .scroll"):
        wide = phone.execute_script(
            f"const e = document.querySelector('{box}'); return [e.scrollWidth, e.clientWidth]")
        assert wide[0] <= wide[1], (box, wide)
    # the whole page at phone width, for a person to look at (artifacts/cabinet-phone.png)
    height = phone.execute_script("return document.documentElement.scrollHeight")
    phone.set_window_size(390, height + 200)
    out = ROOT / "artifacts"
    out.mkdir(exist_ok=True)
    assert phone.save_screenshot(str(out / "cabinet-phone.png"))

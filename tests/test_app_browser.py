"""The Streamlit explorer in a real browser: press Run and see a chart; reload mid-run and
follow the same run; keep the selected tab; two downloads at once; compare detection off and
on from a cold start.

Drives Debian's Chromium (/usr/bin/chromium, package `chromium`) through Playwright;
`make test` installs that package when it is missing. Outside CI the test is skipped
when Chromium or Playwright is absent; under CI (env CI set) it fails instead.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 120  # s, until /_stcore/health answers "ok"
PAGE_TIMEOUT_MS = 120_000  # the first script run imports torch
RUN_TIMEOUT_MS = 180_000  # from pressing Run to a finished chart, on a loaded 2-core machine

# The default scenario, two years long: a real run, short enough for a loaded machine.
QUERY = "?scenario=baseline&steps=24"

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where the browser test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser test may not be skipped)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Terminate the server's whole process group; kill it if it does not exit."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    """A Streamlit server for app.py on a free loopback port, stopped afterwards."""
    if not APP.exists():
        pytest.fail(f"{APP} does not exist")
    port = _free_port()
    log_path = tmp_path / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={
                **os.environ,
                "ECOSYSTEM_APP_RUNS": str(tmp_path / "runs"),
                "ECOSYSTEM_SCENARIOS": str(ROOT / "tests" / "data"),
            },
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        health = f"http://127.0.0.1:{port}/_stcore/health"
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while not _healthy(health):
            if proc.poll() is not None:
                pytest.fail(
                    f"streamlit exited with code {proc.returncode}:\n"
                    + log_path.read_text(errors="replace")
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"streamlit did not answer {health} within {SERVER_START_TIMEOUT} s:\n"
                    + log_path.read_text(errors="replace")
                )
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


@pytest.fixture
def sync_playwright() -> Callable:
    """Playwright's sync entry point, once Chromium and Playwright are known to be there."""
    if not Path(CHROMIUM).exists():
        _unavailable(
            f"Chromium not found at {CHROMIUM}: install the Debian package `chromium` "
            "(`make test` does so when run as root)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -c requirements.lock -e '.[dev]'")
    return sync_playwright


# Streamlit scrolls its main area inside the page, so a full-page screenshot alone
# shows only the first screen: grow the viewport to the content's height first.
CONTENT_HEIGHT_JS = """() => Math.max(document.documentElement.scrollHeight,
    ...Array.from(document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppViewContainer"]'
    )).map((element) => element.scrollHeight))"""


def _screenshot(page, paths: list[Path]) -> None:
    """Save a screenshot of the whole app (at most 8000 px high) to every path; the
    ``ECOSYSTEM_SCREENSHOT`` copy is the first screen only, for the README."""
    first_screen = os.environ.get("ECOSYSTEM_SCREENSHOT")
    if first_screen:
        Path(first_screen).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=first_screen, timeout=60_000)
        paths = [path for path in paths if str(path) != first_screen]
    width = page.viewport_size["width"]
    height = min(max(int(page.evaluate(CONTENT_HEIGHT_JS)), 1000), 8000)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(500)
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True, timeout=60_000)


def test_run_button_shows_a_chart(sync_playwright: Callable, app_url: str, tmp_path: Path) -> None:
    screenshots = [tmp_path / "app.png"]
    if os.environ.get("ECOSYSTEM_SCREENSHOT"):
        screenshots.append(Path(os.environ["ECOSYSTEM_SCREENSHOT"]))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            step = f"open {app_url}"
            try:
                page.goto(app_url + QUERY, wait_until="domcontentloaded")
                exception = page.locator('[data-testid="stException"]').first
                step = "find the button labelled 'Run'"
                run = page.get_by_role("button", name="Run", exact=True).first
                run.or_(exception).first.wait_for(state="visible")
                step = "press Run"
                if not exception.is_visible():
                    run.click()
                    step = "wait for a plotly chart after pressing Run"
                    chart = page.locator('[data-testid="stPlotlyChart"], .js-plotly-plot').first
                    chart.or_(exception).first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
                    step = "wait for the script run to finish"
                    page.locator('[data-testid="stStatusWidget"]').wait_for(
                        state="hidden", timeout=RUN_TIMEOUT_MS
                    )
                page.wait_for_timeout(1_000)  # let plotly finish drawing
            except Exception as error:
                with contextlib.suppress(Exception):
                    _screenshot(page, screenshots)
                pytest.fail(f"could not {step} (screenshot {screenshots[0]}): {error}")
            _screenshot(page, screenshots)
            exceptions = page.locator('[data-testid="stException"]')
            assert exceptions.count() == 0, (
                f"the app shows an exception at step '{step}' "
                f"(screenshot {screenshots[0]}):\n" + exceptions.first.inner_text()
            )
            charts = page.locator('[data-testid="stPlotlyChart"], .js-plotly-plot')
            assert charts.count() > 0, f"no chart after Run (screenshot {screenshots[0]})"
        finally:
            browser.close()


@contextlib.contextmanager
def _page(sync_playwright: Callable, url: str) -> Iterator:
    """A 1400 px wide page at ``url`` in headless Chromium, closed afterwards."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("button", name="Run", exact=True).first.wait_for(state="visible")
            yield page
            exceptions = page.locator('[data-testid="stException"]')
            assert exceptions.count() == 0, exceptions.first.inner_text()
        finally:
            browser.close()


def _press_run(page) -> None:
    page.get_by_role("button", name="Run", exact=True).first.click()


def _wait_for_results(page) -> None:
    """Until the headline numbers of the finished runs show and the script run has ended."""
    page.locator('[data-testid="stMetric"]').first.wait_for(state="visible", timeout=RUN_TIMEOUT_MS)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=RUN_TIMEOUT_MS)


def _selected_tab(page) -> str:
    return page.locator('[role="tab"][aria-selected="true"]').first.inner_text().strip()


def test_a_reload_mid_run_follows_the_same_run_and_the_tab_stays_selected(
    sync_playwright: Callable, app_url: str, tmp_path: Path
) -> None:
    with _page(sync_playwright, app_url + "?scenario=baseline&steps=36&seeds=2") as page:
        page.get_by_role("tab", name="Network").click()
        _press_run(page)
        progress = page.locator('[data-testid="stProgress"]').first
        progress.wait_for(state="visible")
        page.wait_for_timeout(1_500)
        page.reload(wait_until="domcontentloaded")
        progress = page.get_by_text("runs done").first
        progress.wait_for(state="visible", timeout=60_000)
        text = progress.inner_text()
        assert "of 2 runs done" in text, text
        page.get_by_role("tab", name="Network").click()
        _wait_for_results(page)
        page.wait_for_timeout(1_500)
        assert _selected_tab(page) == "Network"
        heading = page.get_by_text("baseline · seeds 0–1 (2 runs)")
        assert heading.count() == 1
    runs = sorted(p.name for p in (tmp_path / "runs").glob("baseline-s*"))
    assert len(runs) == 2, runs  # the reload followed the runs, it did not start others


def test_two_downloads_clicked_in_quick_succession_both_arrive(
    sync_playwright: Callable, app_url: str, tmp_path: Path
) -> None:
    with _page(sync_playwright, app_url + "?scenario=tiny-web&seeds=1") as page:
        _press_run(page)
        _wait_for_results(page)
        page.get_by_role("tab", name="Export").click()
        csv = page.get_by_role("button", name="Time series (CSV)")
        parquet = page.get_by_role("button", name="Time series (Parquet)")
        csv.wait_for(state="visible")
        with page.expect_download() as first:
            csv.click()
        with page.expect_download() as second:
            parquet.click()
        files = [first.value, second.value]
        names = sorted(download.suggested_filename for download in files)
        assert names == ["tiny-web-s0.csv", "tiny-web-s0.parquet"]
        for download in files:
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
            assert saved.stat().st_size > 1000
        assert _selected_tab(page) == "Export"


def test_did_detection_help_from_a_cold_start(
    sync_playwright: Callable, app_url: str, tmp_path: Path
) -> None:
    """The researcher's question in the app: baseline and detection, three seeds each, then
    Compare names them and gives the change with its interval. ``ECOSYSTEM_COMPARE_SCREENSHOT``
    saves the Compare tab (the README's picture)."""
    started = time.monotonic()
    with _page(sync_playwright, app_url + "?scenario=baseline&steps=24&seeds=3") as page:
        _press_run(page)
        _wait_for_results(page)
        page.wait_for_timeout(1_000)
        page.get_by_text("Detection", exact=True).first.click()
        page.get_by_text("Levers on: Detection").first.wait_for(state="visible")
        _press_run(page)
        page.get_by_text("detection on").first.wait_for(state="attached", timeout=RUN_TIMEOUT_MS)
        _wait_for_results(page)
        page.get_by_role("tab", name="Compare").click()
        page.get_by_text("Effect against the base").first.wait_for(state="visible")
        page.wait_for_timeout(2_000)
        seconds = time.monotonic() - started
        print(f"cold start to the comparison: {seconds:.0f} s")
        shot = os.environ.get("ECOSYSTEM_COMPARE_SCREENSHOT")
        if shot:
            Path(shot).parent.mkdir(parents=True, exist_ok=True)
            height = min(max(int(page.evaluate(CONTENT_HEIGHT_JS)), 900), 6000)
            page.set_viewport_size({"width": 1400, "height": height})
            page.wait_for_timeout(2_000)
            panel = page.locator('[role="tabpanel"]:visible').first
            panel.screenshot(path=shot, timeout=60_000)
        body = page.locator('[data-testid="stMain"]').inner_text()
        assert "What differs" in body and "Effect against the base" in body

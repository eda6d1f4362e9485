"""The Streamlit explorer in a real browser: start the server, press Run, see a chart.

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
            env={**os.environ, "ECOSYSTEM_APP_RUNS": str(tmp_path / "runs")},
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

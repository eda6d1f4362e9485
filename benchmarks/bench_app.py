"""How long the explorer takes a policy researcher from a cold start to "did detection help?".

Run: .venv/bin/python benchmarks/bench_app.py [--steps 24] [--seeds 3]

Starts the Streamlit server on a fresh run folder and drives Debian's Chromium (Playwright) at
1400 px as a first-time user would: open the page, press Run (the baseline, ``--seeds`` seeds
of ``--steps`` months), switch Detection on, press Run again, open Compare. Prints the seconds
of each stage, measured from the server's start: server up, page ready (Run button shown),
first progress after Run, results, the second setting's results and the comparison shown.
Also prints the load average, since a second busy process on two cores slows every stage.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 300_000


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def measure(steps: int, seeds: int) -> dict[str, float]:
    """Seconds from the server's start to each stage of the detection comparison."""
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        port = _port()
        started = time.monotonic()
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")),
                *("--server.headless", "true", "--server.port", str(port)),
                *("--server.address", "127.0.0.1"),
            ],
            cwd=ROOT,
            env={**os.environ, "ECOSYSTEM_APP_RUNS": str(Path(scratch) / "runs")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            while not _healthy(f"http://127.0.0.1:{port}/_stcore/health"):
                time.sleep(0.2)
            stages["server up"] = time.monotonic() - started
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
                )
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(TIMEOUT_MS)
                page.goto(
                    f"http://127.0.0.1:{port}/?scenario=baseline&steps={steps}&seeds={seeds}",
                    wait_until="domcontentloaded",
                )
                run = page.get_by_role("button", name="Run", exact=True).first
                run.wait_for(state="visible")
                stages["page ready"] = time.monotonic() - started
                run.click()
                page.get_by_text("runs done").first.wait_for(state="visible")
                stages["first progress"] = time.monotonic() - started
                _results(page)
                stages["baseline results"] = time.monotonic() - started
                page.wait_for_timeout(1_000)  # a user reads the numbers before the next step
                page.get_by_text("Detection", exact=True).first.click()
                page.get_by_text("Levers on: Detection").first.wait_for(state="visible")
                run.click()
                page.get_by_text("runs done").first.wait_for(state="visible")
                _results(page)
                stages["detection results"] = time.monotonic() - started
                page.get_by_role("tab", name="Compare").click()
                page.get_by_text("Effect against the base").first.wait_for(state="visible")
                stages["comparison shown"] = time.monotonic() - started
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return stages


def _results(page) -> None:
    page.get_by_text("runs done").first.wait_for(state="detached")
    page.locator('[data-testid="stMetric"]').first.wait_for(state="visible")
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24, help="months per run (default 24)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setting (default 3)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    stages = measure(args.steps, args.seeds)
    print(f"baseline vs detection, {args.seeds} seeds x {args.steps} months each:")
    for stage, seconds in stages.items():
        print(f"  {stage:<20} {seconds:6.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""The explorer once in a real browser: JupyterLab on 127.0.0.1, Debian's chromium driven by
the python ``playwright`` package (no downloaded browser), a slider moved with the keyboard
and the new p95 read back from the page.

Skips, saying why, without ``/usr/bin/chromium`` or ``playwright`` (``make test`` installs
chromium as root with apt-get; ``pip install playwright`` — never ``playwright install``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ENDPOINT = "checkout-api POST /v1/orders"
TIMEOUT_S = 90

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "id": "explore", "metadata": {},
         "outputs": [], "source": [
             "import designkit as dk\n",
             "\n",
             "explorer = dk.explore(dk.template('flash-sale'))\n",
             f"print(f\"p95 {{explorer.estimate.endpoints['{ENDPOINT}'].p95_ms:.3g}} ms\")\n",
             "explorer"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium: install Debian's chromium "
                                       "(apt-get install chromium) to run the browser test")


def _sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: pip install playwright "
                    "(it drives /usr/bin/chromium; no `playwright install` needed)")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _listed(url: str) -> Any:
    """What ``url`` lists, or nothing while the server answers 5xx (it may, for a moment,
    while the notebook's kernel is starting)."""
    try:
        return _get(url)
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            return None
        raise


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving a notebook that explores flash-sale."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "explorer.ipynb").write_text(json.dumps(NOTEBOOK, indent=1))
    token = secrets.token_hex(16)
    port = _free_port()
    home = tmp_path / "jupyter"
    for sub in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
        (home / sub).mkdir(parents=True)
    env = {**os.environ,
           "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "IPYTHONDIR": str(home / "ipython"),
           "MPLBACKEND": "Agg"}
    jupyter = Path(sys.executable).parent / "jupyter"
    log = (tmp_path / "lab.log").open("w")
    args = [str(jupyter), "lab", "--no-browser", f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # containers and CI often run as root
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/api/status?token={token}")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n"
                                + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _wait_kernel_idle(base: str, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = _get(f"{base}/api/kernels?token={token}")
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.3)
    raise AssertionError(f"the kernel did not become idle within {timeout:.0f} s")


def _p95(page: Any) -> float:
    text = page.locator(f".dk-p95[data-endpoint='{ENDPOINT}']").first.inner_text()
    return float(text.replace(",", "").replace("∞", "inf"))


def test_moving_the_load_slider_raises_p95_in_jupyterlab(lab: tuple[str, str],
                                                          tmp_path: Path) -> None:
    sync_playwright = _sync_playwright()
    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_S * 1000)
            page.goto(f"{base}/lab/tree/explorer.ipynb?token={token}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            # The kernel starts with the notebook; run everything once it is idle.
            deadline = time.monotonic() + 60
            while not _listed(f"{base}/api/kernels?token={token}"):
                assert time.monotonic() < deadline, "no kernel was started for the notebook"
                time.sleep(0.3)
            _wait_kernel_idle(base, token)
            # One cell: run it (Shift+Enter runs it in edit and in command mode).
            page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first.click()
            page.keyboard.press("Shift+Enter")

            printed = page.locator(".jp-OutputArea-output", has_text="p95 ").first
            printed.wait_for()
            match = re.search(r"p95 ([\d.,]+) ms", printed.inner_text())
            assert match, printed.inner_text()
            ready = page.locator(".designkit-explorer-summary .dk-status[data-status='ready']")
            ready.wait_for()
            _wait_kernel_idle(base, token)
            before = _p95(page)
            assert f"{before:.3g}" == match.group(1)  # the widget shows what the cell printed

            handle = page.locator(".designkit-load-scale .noUi-handle").first
            readout = page.locator(".designkit-load-scale .widget-readout").first
            assert readout.inner_text().strip() == "1.00"
            handle.focus()
            for _ in range(10):  # 10 steps of 0.05: 1.00 → 1.50
                handle.press("ArrowRight")
            page.wait_for_function(
                "() => document.querySelector('.designkit-load-scale .widget-readout')"
                ".textContent.trim() === '1.50'", timeout=30_000)
            page.locator(".designkit-explorer-summary", has_text="1.5×").first.wait_for()
            ready.wait_for()
            _wait_kernel_idle(base, token)
            after = _p95(page)
            page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
            assert after > before, (before, after)
            summary = page.locator(".designkit-explorer-summary").first.inner_text()
            assert "load ×1.5" in summary
        finally:
            browser.close()

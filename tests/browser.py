"""A real headless Chromium for the tests of the page, driven by Playwright for Python.

The ``chromium`` fixture (in conftest.py) is one browser context for the whole session.
The browser is the system's (Debian's ``chromium`` package, or $GRAPHDSL_CHROMIUM):
Playwright's own browser downloads are never used. Without Playwright or a browser the
tests that need them skip, saying which is missing.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def find_chromium() -> str | None:
    given = os.environ.get("GRAPHDSL_CHROMIUM")
    if given:
        return given if os.path.exists(given) else None
    return next((found for found in map(shutil.which, NAMES) if found), None)


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[test]')"
    if find_chromium() is None:
        return "no Chromium browser found (Debian/Ubuntu: apt-get install chromium; or set GRAPHDSL_CHROMIUM)"
    return None


needs_browser = pytest.mark.skipif(missing() is not None, reason=missing() or "")


@contextmanager
def launched(viewport=None):
    """A browser context with a fresh profile, closed (and the profile removed) on exit."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="graphdsl-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=find_chromium(), headless=True, args=ARGS,
                viewport=viewport or {"width": 1400, "height": 950})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One page of the browser, with the errors its scripts raised."""

    def __init__(self, context, url: str):
        self.page = context.new_page()
        self.errors = []
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", self._console)
        self.page.goto(url)
        self.settled()

    def _console(self, message) -> None:
        # A 400 answer is part of the contract; the browser logs it as a failed load.
        if message.type == "error" and "status of 400" not in message.text:
            self.errors.append(message.text)

    def settled(self, answers_before: str | None = None, timeout: float = 10_000):
        """Wait until the view has had an answer (another than ``answers_before``: a run shown
        or an error) and is idle."""
        self.page.wait_for_function(
            """(before) => { const view = document.querySelector('.gd-view');
                return view && view.dataset.busy === 'false' && view.dataset.answers &&
                       view.dataset.answers !== before; }""", arg=answers_before, timeout=timeout)

    def runs(self) -> str | None:
        """How many answers the view has had (``settled`` waits for the next)."""
        return self.page.get_attribute(".gd-view", "data-answers")

    def change(self, name: str, text: str) -> None:
        """Set an input's field and dispatch change (SPEC §6), then wait for the new numbers."""
        before = self.runs()
        field = self.page.locator(f'[data-input="{name}"]')
        field.fill(text)
        field.dispatch_event("change")
        self.settled(before)

    def click(self, action: str, settle: bool = True) -> None:
        before = self.runs()
        self.page.click(f'[data-action="{action}"]')
        if settle:
            self.settled(before)

    def attributes(self, selector: str, name: str) -> dict:
        """``{data-node (or other key): attribute}`` of every element matching ``selector``."""
        return dict(self.page.eval_on_selector_all(
            selector, "(els, name) => els.map(e => [e.dataset.node, e.getAttribute(name)])", name))

    def close(self) -> None:
        self.page.close()

"""Debian's Chromium driven by Playwright: headless, on an empty profile, nothing downloaded
(the browser is ``/usr/bin/chromium`` from ``./dev``'s test packages)."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from playwright.async_api import BrowserContext as AsyncBrowserContext
from playwright.async_api import async_playwright
from playwright.sync_api import BrowserContext, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """A browser with its own empty profile directory; close it to forget the session."""
    profile.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 800},
        )  # fmt: skip
        try:
            yield context
        finally:
            context.close()


@asynccontextmanager
async def async_chromium(profile: Path) -> AsyncIterator[AsyncBrowserContext]:
    """The same, for async tests (the plane and runner run in the test's event loop)."""
    profile.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 800},
        )  # fmt: skip
        try:
            yield context
        finally:
            await context.close()

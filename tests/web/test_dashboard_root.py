"""The dashboard against a real plane and runner (``roost up``), driven in Chromium as two
people would: create an environment from a local repository and watch it reach running, type in
its terminal, open a port and see the page served inside it, stop and start it -- and another
user sees none of it.

With ``ROOST_SCREENSHOTS=DIR`` the main pages are saved there (docs/screenshots/ is made so).
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from roost.runner.images import Image
from tests.support.browser import async_chromium
from tests.support.images import debian_base
from tests.support.live import run_cli
from tests.support.repos import reachable
from tests.support.runner import free_subnet
from tests.support.up import LocalUp, roost_up

__all__ = ["debian_base"]
pytestmark = [pytest.mark.root, pytest.mark.slow]
SLOW = 240_000  # ms: a first start clones, builds and boots
PAGE = "<h1>hello from inside roost</h1>"
AUTOMATIONS = """\
tasks:
  hello:
    name: Manual hello
    command: "echo hello from a manual task"
"""


def local_repository(root: Path) -> Path:
    repo = root / "site"
    repo.mkdir()
    (repo / "index.html").write_text(PAGE)
    (repo / ".roost").mkdir()
    (repo / ".roost" / "automations.yaml").write_text(AUTOMATIONS)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "site"], check=True)
    return reachable(repo)  # runners clone local paths unprivileged


def sign_in_link(up: LocalUp, url: str, user: str) -> str:
    """A member of the default organization, and a dashboard link for them (made by the CLI)."""
    made = run_cli("user", "create", user, env=up.env)
    assert made.returncode == 0, made.stderr
    run_cli("org", "add-member", "default", user, "--role", "member", env=up.env)
    token = run_cli("token", "create", "--user", user, env=up.env).stdout.strip()
    link = run_cli("login", url, "--token", token, "--web", env=up.env)
    assert link.returncode == 0, link.stderr
    return link.stdout.strip()


async def shot(page: Page, name: str) -> None:
    target = os.environ.get("ROOST_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


async def terminal_lines(page: Page) -> list[str]:
    text: str = await page.locator("#terminal .xterm-rows").inner_text()
    return [line.rstrip() for line in text.splitlines()]


async def create_in_browser(page: Page, repo: Path) -> str:
    await page.get_by_role("link", name="New environment").first.click()
    await page.get_by_label("Name").fill("site")
    await page.get_by_label("Repository URL").fill(str(repo))
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_role("heading", name=re.compile("^site"))).to_be_visible()
    await expect(page.locator("h1 .phase")).to_have_text("running", timeout=SLOW)
    match = re.search(r"#/env/([0-9a-z]+)", page.url)
    assert match, page.url
    return match.group(1)


async def use_terminal(page: Page, env_id: str) -> None:
    await page.get_by_role("link", name="Terminal in site").click()
    await expect(page.locator("#terminal-state")).to_have_text("Connected.", timeout=30_000)
    await page.locator("#terminal").click()
    await page.keyboard.type("echo hello\n")
    for _ in range(100):
        if "hello" in await terminal_lines(page):
            break
        await page.wait_for_timeout(100)
    assert "hello" in await terminal_lines(page)  # the command's output, on a line of its own
    await page.keyboard.type("echo ünïcödé ✓\n")
    await expect(page.locator("#terminal .xterm-rows")).to_contain_text("ünïcödé ✓\n")
    await shot(page, "terminal")
    serve = "setsid -f python3 -m http.server 8000 -d /workspaces/site >/dev/null 2>&1\n"
    await page.keyboard.type(serve)
    await page.wait_for_timeout(500)
    await page.goto(page.url.replace("/terminal", ""))


async def open_port(browser: BrowserContext, page: Page) -> None:
    await page.get_by_label("Port number").fill("8000")
    await page.get_by_role("button", name="Open port").click()
    row = page.locator("tr[data-port='8000']")
    await expect(row).to_contain_text("http", timeout=60_000)  # the runner published a URL
    async with browser.expect_page() as opened:
        await page.get_by_role("button", name="Open port 8000").click()
    app = await opened.value
    await expect(app.locator("h1")).to_have_text("hello from inside roost", timeout=30_000)
    await app.close()


async def run_task_and_read_its_log(page: Page) -> None:
    """Straight from the runner, cross-origin, with a one-use ticket per call."""
    await page.get_by_role("button", name="Show services and tasks").click()
    tasks = page.get_by_role("table", name="Automations")
    await expect(tasks).to_contain_text("Manual hello")
    await page.get_by_role("button", name="Run task hello").click()
    await expect(tasks).to_contain_text("succeeded", timeout=30_000)
    await page.get_by_label("Step").fill("hello")
    await page.get_by_role("button", name="Show log").click()
    await expect(page.get_by_label("Log", exact=True)).to_contain_text("hello from a manual task")


async def stop_and_start(page: Page) -> None:
    await page.get_by_role("button", name="Stop site").click()
    await expect(page.locator("h1 .phase")).to_have_text("stopped", timeout=120_000)
    await page.get_by_role("button", name="Start site").click()
    await expect(page.locator("h1 .phase")).to_have_text("running", timeout=SLOW)


async def test_a_person_does_it_all_in_the_browser(tmp_path: Path, debian_base: Image) -> None:
    repo = local_repository(tmp_path)
    async with roost_up(tmp_path, free_subnet(226)) as up:
        url = json.loads((tmp_path / "cli.json").read_text())["url"]
        alice_link = sign_in_link(up, url, "alice")
        bob_link = sign_in_link(up, url, "bob")
        async with async_chromium(tmp_path / "alice") as browser:
            page = await browser.new_page()
            await page.goto(alice_link)
            await expect(page.get_by_text("You have no environments yet.")).to_be_visible()
            env_id = await create_in_browser(page, repo)
            await page.goto(url + "/#/")
            row = page.locator(f"tr[data-env='{env_id}']")
            await expect(row.locator(".phase")).to_have_text("running")
            await shot(page, "environments")
            await page.goto(f"{url}/#/env/{env_id}")
            await expect(page.get_by_role("heading", name="Connect")).to_be_visible()
            await use_terminal(page, env_id)
            await open_port(browser, page)
            await expect(
                page.get_by_role("img", name=re.compile("^Start timeline"))
            ).to_be_visible()
            await run_task_and_read_its_log(page)
            await stop_and_start(page)
            await shot(page, "environment")
            await page.goto(url + "/#/admin/runners")
            await expect(page.get_by_role("table", name="Runners")).to_be_visible()
            await shot(page, "admin-runners")
        async with async_chromium(tmp_path / "bob") as browser:
            page = await browser.new_page()
            await page.goto(bob_link)
            await expect(page.get_by_text("You have no environments yet.")).to_be_visible()
            await page.goto(f"{url}/#/env/{env_id}")
            await expect(page.locator("#flash")).to_contain_text("not found")

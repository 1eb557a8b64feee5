"""Admin pages in Chromium: an organization's policy and members, secrets whose values are
written but never shown, the audit log with a filter."""

import os
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.browser import chromium
from tests.support.live import live_server, run_cli


def shot(page: Page, name: str) -> None:
    target = os.environ.get("ROOST_SCREENSHOTS")
    if target:
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=True)


def test_an_admin_governs_from_the_browser(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_CONFIG": str(tmp_path / "cli.json")}
        run_cli("login", server.url, "--token", server.admin_token, env=env)
        assert run_cli("user", "create", "carol", env=env).returncode == 0
        link = run_cli("login", "--web", env=env).stdout.strip()
        with chromium(tmp_path / "profile") as browser:
            page = browser.new_page()
            page.goto(link)
            page.get_by_role("link", name="Admin").click()
            policy = page.get_by_role("form", name="Policy of default")
            policy.get_by_label("Widest port sharing").select_option("organization")
            policy.get_by_label("Egress allowed to").fill("10.0.0.0/8")
            policy.get_by_role("button", name="Save policy").click()
            orgs = page.get_by_role("table", name="Organizations")
            expect(orgs).to_contain_text("organization")
            expect(orgs).to_contain_text("10.0.0.0/8")
            members = page.get_by_role("form", name="Add a member to default")
            members.get_by_label("User").fill("carol")
            members.get_by_label("Role").select_option("admin")
            members.get_by_role("button", name="Add member").click()
            expect(page.get_by_role("table", name="Members of default")).to_contain_text("carol")
            shot(page, "admin-organizations")

            page.get_by_role("link", name="Secrets").click()
            form = page.get_by_role("form", name="Set a secret")
            form.get_by_label("Name").fill("npm-token")
            form.get_by_label("Value").fill("s3cr3t-value")
            form.get_by_label("As environment variable").fill("NPM_TOKEN")
            form.get_by_role("button", name="Set secret (yours)").click()
            expect(page.get_by_role("table", name="Secrets")).to_contain_text("NPM_TOKEN")
            assert "s3cr3t-value" not in page.content()

            page.get_by_role("link", name="Audit log").click()
            page.get_by_label("Filter the audit log").fill("secret")
            audit = page.get_by_role("table", name="Audit log")
            expect(audit).to_contain_text("secret.")
            expect(audit).not_to_contain_text("web.sign_in")
        listed = run_cli("org", "get", "default", "-o", "json", env=env)
        assert '"max_port_admission": "organization"' in listed.stdout.replace('":"', '": "')

"""Signing in to the dashboard in Chromium: through a link from `roost login --web`, and through
an OpenID provider; the page never shows the session's secret to scripts."""

from pathlib import Path

from playwright.sync_api import expect

from roost.core.schemas.web import SESSION_COOKIE
from tests.support.browser import chromium
from tests.support.live import live_server, run_cli
from tests.support.oidc import oidc_provider


def test_sign_in_with_a_link_from_the_cli(tmp_path: Path) -> None:
    with live_server(tmp_path / "plane") as server:
        env = {"ROOST_CONFIG": str(tmp_path / "cli.json")}
        assert run_cli("login", server.url, "--token", server.admin_token, env=env).returncode == 0
        printed = run_cli("login", "--web", env=env)
        assert printed.returncode == 0, printed.stderr
        link = printed.stdout.strip()
        assert server.admin_token not in link
        with chromium(tmp_path / "profile") as browser:
            page = browser.new_page()
            page.goto(link)
            expect(page.get_by_role("heading", name="Environments")).to_be_visible()
            expect(page.get_by_text("You have no environments yet.")).to_be_visible()
            expect(page.locator("#who")).to_have_text("admin (admin)")
            assert "#login=" not in page.url  # the code leaves the address bar
            cookie = next(c for c in browser.cookies() if c["name"] == SESSION_COOKIE)
            assert cookie["httpOnly"]
            assert page.evaluate("document.cookie") == ""
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("heading", name="Sign in to Roost")).to_be_visible()
            used = browser.new_page()
            used.goto(link)  # one use only
            expect(used.get_by_text("this sign-in link is not valid")).to_be_visible()


def test_sign_in_through_an_openid_provider(tmp_path: Path) -> None:
    with oidc_provider("ada@example.com") as provider:
        secret = tmp_path / "oidc-secret"
        secret.write_text(provider.client_secret)
        args = ["--oidc-issuer", provider.issuer, "--oidc-client-id", provider.client_id,
                "--oidc-client-secret-file", str(secret), "--oidc-name", "TestID"]  # fmt: skip
        with live_server(tmp_path / "plane", *args) as server:
            env = {"ROOST_CONFIG": str(tmp_path / "cli.json")}
            run_cli("login", server.url, "--token", server.admin_token, env=env)
            made = run_cli("user", "create", "ada", "--email", "ada@example.com", env=env)
            assert made.returncode == 0, made.stderr
            with chromium(tmp_path / "profile") as browser:
                page = browser.new_page()
                page.goto(server.url + "/")
                page.get_by_role("link", name="Sign in with TestID").click()
                expect(page.locator("#who")).to_have_text("ada")
                expect(page.get_by_role("heading", name="Environments")).to_be_visible()
        assert provider.tokens_issued == 1

"""Authentication and tenancy: every route needs a token; other organizations' objects are 404."""

import re

import pytest
from sqlalchemy import text

from tests.support.plane import PlaneHarness

PUBLIC = {
    "/api/v1/runners/register",  # authenticated by the registration token in its body
    "/api/v1/web/sign-in",  # by the sign-in link's code in its body
    "/api/v1/web/config",  # what the sign-in page offers, before anyone is signed in
}


def api_routes(app: object) -> list[tuple[str, str]]:
    """Every operation in the OpenAPI document (so a new route is covered automatically)."""
    paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if p.startswith("/api/v1")]


async def test_every_route_refuses_requests_without_a_token(plane: PlaneHarness) -> None:
    anonymous = plane.client()
    routes = [(m, p) for m, p in api_routes(plane.app) if p not in PUBLIC]
    assert len(routes) > 25
    for method, path in routes:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        r = await anonymous.request(method, concrete, json={})
        assert r.status_code == 401, (method, path, r.text)
        assert r.json()["error"]["code"] == "unauthenticated"


async def test_bad_tokens_are_refused_with_a_reason(plane: PlaneHarness) -> None:
    for token in ("nonsense", "roost_abc_def", "roost_" + "0" * 20 + "_wrong"):
        r = await plane.client(token).get("/api/v1/whoami")
        assert r.status_code == 401


async def test_revoked_and_expired_tokens_stop_working(plane: PlaneHarness) -> None:
    created = (await plane.admin.post("/api/v1/tokens", json={"expires_in_seconds": 3600})).json()
    client = plane.client(created["secret"])
    assert (await client.get("/api/v1/whoami")).status_code == 200
    plane.clock.advance(3601)
    r = await client.get("/api/v1/whoami")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    other = (await plane.admin.post("/api/v1/tokens", json={})).json()
    await plane.admin.delete(f"/api/v1/tokens/{other['token']['id']}")
    r = await plane.client(other["secret"]).get("/api/v1/whoami")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


async def test_tokens_are_stored_hashed(plane: PlaneHarness) -> None:
    created = (await plane.admin.post("/api/v1/tokens", json={"name": "ci"})).json()
    secret = created["secret"].rsplit("_", 1)[1]
    if plane.ctx.db.is_sqlite:  # the whole file, indexes and free pages included
        raw = (plane.ctx.settings.data_dir / "roost.db").read_bytes()
        assert secret.encode() not in raw
    async with plane.ctx.db.read() as session:
        rows = (await session.execute(text("SELECT * FROM tokens"))).all()
    assert len(rows) >= 2 and secret not in repr(rows)


async def test_admin_token_file_is_private(plane: PlaneHarness) -> None:
    path = plane.plane.admin_token_path
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.fixture
async def two_orgs(plane: PlaneHarness):  # type: ignore[no-untyped-def]
    await plane.admin.post("/api/v1/organizations", json={"name": "acme"})
    await plane.admin.post("/api/v1/organizations", json={"name": "globex"})
    alice = await plane.user("alice", org="acme", role="admin")
    bob = await plane.user("bob", org="globex", role="admin")
    return alice, bob


async def test_other_organizations_objects_are_not_found(plane: PlaneHarness, two_orgs) -> None:  # type: ignore[no-untyped-def]
    alice, bob = two_orgs
    env = (await alice.post("/api/v1/environments", json={"organization": "acme"})).json()
    project = (await alice.post("/api/v1/projects?organization=acme", json={"name": "web"})).json()
    env_id, project_id = env["metadata"]["id"], project["id"]
    for method, path in [
        ("GET", f"/api/v1/environments/{env_id}"),
        ("POST", f"/api/v1/environments/{env_id}/stop"),
        ("DELETE", f"/api/v1/environments/{env_id}"),
        ("GET", f"/api/v1/projects/{project_id}"),
        ("GET", "/api/v1/organizations/acme"),
        ("GET", "/api/v1/organizations/acme/members"),
        ("GET", "/api/v1/organizations/acme/quotas"),
    ]:
        r = await bob.request(method, path)
        assert r.status_code == 404, (method, path, r.text)
    for path in ("/api/v1/organizations/acme/quotas", "/api/v1/organizations/nope/quotas"):
        r = await bob.put(path, json={})  # the same answer whether it exists or not
        assert (r.status_code, r.json()["error"]["message"]) == (
            403, "quotas are set by platform admins"), r.text  # fmt: skip
    listed = (await bob.get("/api/v1/environments")).json()["items"]
    assert listed == []
    r = await bob.post("/api/v1/environments", json={"organization": "acme"})
    assert r.status_code == 404


async def test_members_see_only_their_own_environments(plane: PlaneHarness) -> None:
    carol = await plane.user("carol")
    dave = await plane.user("dave")
    env = (await carol.post("/api/v1/environments", json={})).json()
    assert (await dave.get(f"/api/v1/environments/{env['metadata']['id']}")).status_code == 404
    assert (
        await plane.admin.get(f"/api/v1/environments/{env['metadata']['id']}")
    ).status_code == 200


async def test_members_cannot_do_admin_things(plane: PlaneHarness) -> None:
    erin = await plane.user("erin")
    assert (await erin.post("/api/v1/users", json={"name": "x"})).status_code == 403
    assert (await erin.post("/api/v1/organizations", json={"name": "x"})).status_code == 403
    assert (await erin.post("/api/v1/runners/registration-tokens", json={})).status_code == 403
    r = await erin.post(
        "/api/v1/organizations/default/members", json={"user": "erin", "role": "owner"}
    )
    assert r.status_code == 403
    assert (await erin.get("/api/v1/audit?organization=default")).status_code == 403


async def test_cached_principals_follow_revocation_and_role_changes(plane: PlaneHarness) -> None:
    gina = await plane.user("gina")
    assert (await gina.get("/api/v1/audit", params={"organization": "default"})).status_code == 403
    await plane.admin.post(
        "/api/v1/organizations/default/members", json={"user": "gina", "role": "admin"}
    )
    assert (await gina.get("/api/v1/audit", params={"organization": "default"})).status_code == 200
    token = gina.headers["Authorization"].split()[1]
    token_id = token.split("_")[1]
    await plane.admin.delete(f"/api/v1/tokens/{token_id}")
    assert (await gina.get("/api/v1/whoami")).status_code == 401

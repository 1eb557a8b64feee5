"""SSH keys: users register public keys; fingerprints are unique across users."""

import subprocess
from pathlib import Path

from tests.server.access_support import audit, public_key
from tests.support.plane import PlaneHarness


async def test_add_list_remove(plane: PlaneHarness, tmp_path: Path) -> None:
    alice = await plane.user("alice")
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "alice@laptop",
            "-f",
            str(tmp_path / "k"),
        ],
        check=True,
    )
    line = (tmp_path / "k.pub").read_text()
    expected = subprocess.run(
        ["ssh-keygen", "-lf", str(tmp_path / "k.pub")], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    r = await alice.post("/api/v1/ssh-keys", json={"public_key": line})
    assert r.status_code == 201, r.text
    key = r.json()
    assert key["fingerprint"] == expected
    assert key["name"] == "alice@laptop"  # the comment, by default
    assert key["public_key"] == " ".join(line.split()[:2])
    assert [k["id"] for k in (await alice.get("/api/v1/ssh-keys")).json()] == [key["id"]]

    bob = await plane.user("bob")
    assert (await bob.get("/api/v1/ssh-keys")).json() == []
    assert (await bob.delete(f"/api/v1/ssh-keys/{key['id']}")).status_code == 404
    assert (await alice.delete(f"/api/v1/ssh-keys/{expected}")).status_code == 204
    assert (await alice.get("/api/v1/ssh-keys")).json() == []
    assert [e["action"] for e in await audit(plane, "ssh_key.add")] == ["ssh_key.add"]
    assert len(await audit(plane, "ssh_key.remove")) == 1


async def test_registering_a_key_tells_nothing_about_other_users(plane: PlaneHarness) -> None:
    """A key someone else registered is accepted like any other (a refusal would tell anyone
    who holds which key); registering it twice yourself is the only conflict."""
    line = public_key()
    alice = await plane.user("alice")
    bob = await plane.user("bob")
    assert (await alice.post("/api/v1/ssh-keys", json={"public_key": line})).status_code == 201
    r = await bob.post("/api/v1/ssh-keys", json={"public_key": line, "name": "again"})
    assert r.status_code == 201, r.text
    r = await alice.post("/api/v1/ssh-keys", json={"public_key": line, "name": "again"})
    assert r.status_code == 409
    assert "you have registered" in r.json()["error"]["message"]
    fingerprint = (await alice.get("/api/v1/ssh-keys")).json()[0]["fingerprint"]
    assert (await bob.delete(f"/api/v1/ssh-keys/{fingerprint}")).status_code == 204
    assert len((await alice.get("/api/v1/ssh-keys")).json()) == 1  # bob removed only his


async def test_bad_keys_are_refused_with_a_way_out(plane: PlaneHarness) -> None:
    alice = await plane.user("alice")
    for text, words in (
        ("not a key", "not an SSH public key"),
        (public_key(algorithm="ssh-rsa", key_size=1024), "shorter than 2048"),
        ("", "at least 1 character"),
    ):
        r = await alice.post("/api/v1/ssh-keys", json={"public_key": text})
        assert r.status_code == 400, text
        assert words in r.json()["error"]["message"]
    r = await alice.post("/api/v1/ssh-keys", json={"public_key": public_key(algorithm="ssh-rsa")})
    assert r.status_code == 201

"""Before a client proves it holds a key, the SSH gateway reveals nothing: not whether the key
is registered, nor whose environments are whose (public keys are public)."""

import shutil
from pathlib import Path

from tests.runner.access.conftest import KeyPair, keypair, run
from tests.runner.access.test_gateway import ENV, World, world

__all__ = ["world"]


def public_only(key: KeyPair, directory: Path) -> KeyPair:
    """Someone who has the key's public half (from a key server, a forge) but not its secret."""
    directory.mkdir()
    probe = directory / "probe.pub"  # ssh -i a public key: offered, but it cannot sign
    shutil.copy(key.private.with_suffix(".pub"), probe)
    return KeyPair(probe)


async def test_offering_someone_elses_public_key_learns_nothing(
    world: World, tmp_path: Path
) -> None:
    probe = public_only(world.key, tmp_path / "probe")
    answers = set()
    for user in (ENV, "dev", "someone-else"):
        code, _, err = await run(world.ssh("true", key=probe, user=user))
        assert code == 255 and "roost:" not in err, err  # no banner before the proof
        answers.add(err.replace(user, "USER"))
    assert len(answers) == 1  # the same answer for every environment
    assert world.plane.asked == []  # the plane was not even asked


async def test_after_the_proof_refusals_still_say_why(world: World, tmp_path: Path) -> None:
    stranger = keypair(tmp_path, "stranger")
    code, _, err = await run(world.ssh("true", key=stranger, user="someone-else"))
    assert code == 255 and "'someone-else' is not one of yours" in err
    assert all(a.public_key.split()[1] == stranger.public.split()[1] for a in world.plane.asked)
    assert (await run(world.ssh("true")))[0] == 0

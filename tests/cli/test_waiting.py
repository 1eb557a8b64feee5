"""What the CLI says about waits and about exit codes that are the environment's."""

from roost.cli.waiting import exit_hint


def test_exit_codes_137_and_254_come_with_a_reason() -> None:
    env = {"status": {"conditions": {"resources": {"message": (
        "1 CPU, 256 MiB, 20 GiB disk, 64 pids; process limit reached (64 pids): 9 new "
        "processes refused; end some, or use a class with more pids"
    )}}}}  # fmt: skip
    hint = exit_hint(254, env)
    assert hint.startswith("roost: exit 254: the command could not be started")
    assert "process limit reached (64 pids)" in hint
    assert "out of memory or processes" in exit_hint(137, {"status": {"conditions": {}}})
    assert exit_hint(1, env) == ""

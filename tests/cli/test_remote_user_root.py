"""A devcontainer with a non-root ``remoteUser``, end to end as a user meets it (root): hooks,
``roost env exec`` and SSH all run in the user's own environment (its ``HOME``, ``USER``,
``SHELL``, login ``PATH``, ``remoteEnv``); its secret files are readable by it (and only by it);
``ssh -A`` hands it a working agent; stopped, ``ssh`` starts it again with its home directory."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from roost.runner.images import DEFAULT_IMAGE, Image
from tests.cli.test_access_root import agent, ssh
from tests.runner.test_content_root import make_repo
from tests.support.images import debian_base
from tests.support.live import free_port, run_cli
from tests.support.runner import free_subnet
from tests.support.up import roost_up

__all__ = ["agent", "debian_base"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

CONFIG = {
    "build": {"dockerfile": "Dockerfile"},
    "remoteUser": "coder",
    "remoteEnv": {"FROM_REMOTE_ENV": "yes"},
    "postCreateCommand": "echo made-by-$USER > $HOME/created && bash -lc 'git config --global"
    " user.name coder' && cat /run/secrets/token > $HOME/seen-secret",
    "postStartCommand": "echo $HOME:$SHELL > /tmp/start-env",
}
DOCKERFILE = (
    f"FROM {DEFAULT_IMAGE}\n"
    "RUN useradd --create-home --shell /bin/bash coder && "
    "echo 'export FROM_PROFILE=probed' >> /home/coder/.bashrc\n"
)


def cli(env: dict[str, str], *args: str, stdin: bytes | None = None) -> str:
    result = run_cli(*args, env=env, stdin=stdin, timeout=300)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result.stdout


async def test_a_non_root_remote_user_gets_its_own_environment(
    tmp_path: Path, debian_base: Image, agent: dict[str, str]
) -> None:
    files = {
        ".devcontainer/devcontainer.json": json.dumps(CONFIG),
        ".devcontainer/Dockerfile": DOCKERFILE,
    }
    repo = make_repo(tmp_path / "src", files)
    extra = ("--ssh-listen", f"127.0.0.1:{free_port()}")
    async with roost_up(tmp_path, free_subnet(223), *extra) as up:
        env = up.env
        cli(env, "secret", "set", "TOKEN", "--file", "/run/secrets/token", stdin=b"s3cret\n")
        cli(env, "ssh-key", "add", agent["KEY"] + ".pub")
        created = cli(env, "env", "create", str(repo), "--name", "app", "--wait", "-o", "json")
        env_id = json.loads(created)["metadata"]["id"]

        script = (
            "id -un; echo $HOME $USER $SHELL $FROM_REMOTE_ENV $FROM_PROFILE; cat ~/created; "
            "cat ~/seen-secret; echo; git config --global user.name; cat /tmp/start-env; "
            "stat -c '%U %a' /run/secrets /run/secrets/token"
        )
        out = cli(env, "env", "exec", env_id, "--", "sh", "-c", script)
        assert out.splitlines() == [
            "coder", "/home/coder coder /bin/bash yes probed", "made-by-coder", "s3cret",
            "coder", "/home/coder:/bin/bash", "coder 700", "coder 600",
        ], out  # fmt: skip

        config = tmp_path / "ssh_config"
        cli(env, "config-ssh", "--ssh-config", str(config))
        shell = ssh(config, agent, "-A", "app.roost", "echo $HOME $FROM_PROFILE; ssh-add -l")
        assert shell.returncode == 0, shell.stderr
        fingerprint = subprocess.run(
            ["ssh-keygen", "-lf", agent["KEY"] + ".pub"], capture_output=True, text=True,
            check=True,
        ).stdout.split()[1]  # fmt: skip
        lines = shell.stdout.splitlines()
        assert lines[0] == "/home/coder probed" and fingerprint in lines[1], shell.stdout

        # Stopped, it keeps its entry: ssh starts it again, home directory and all (by default
        # stop keeps the writable layer)
        cli(env, "env", "stop", "app", "--wait")
        cli(env, "config-ssh", "--ssh-config", str(config))
        again = subprocess.run(
            ["ssh", "-F", str(config), "-o", "BatchMode=yes", "app.roost", "cat ~/created"],
            env={**os.environ, **env, "SSH_AUTH_SOCK": agent["SSH_AUTH_SOCK"]},  # the CLI's login
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert again.stdout == "made-by-coder\n" and "starting app" in again.stderr
        cli(env, "env", "delete", env_id, "--wait")

"""What ``roost config-ssh`` adds to its Host entries beyond the address of a running
environment's gateway:

* ``IdentityFile``: the private key, among ``~/.ssh/*`` (or ``--identity-file``), whose public
  key is registered with the plane (``roost ssh-key add``) -- matched by fingerprint with
  ``ssh-keygen -lf``, so nothing is guessed;
* entries for **stopped** environments (no runner yet: it is chosen when they start), which go
  through ``roost env ssh-proxy ID`` (``ProxyCommand``): it starts the environment if needed,
  waits until it runs, and relays the connection to its runner's gateway. Which runner that will
  be is not known when the file is written, so these entries accept the host key of any of the
  plane's runners (``HostKeyAlias roost-runners``); running environments' entries pin their own
  runner's key.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ANY_RUNNER = "roost-runners"


def fingerprint(public_key: Path) -> str | None:
    try:
        done = subprocess.run(
            ["ssh-keygen", "-E", "sha256", "-lf", str(public_key)],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[1] if done.returncode == 0 and len(words) > 1 else None


def identity_file(registered: set[str], ssh_dir: Path | None = None) -> Path | None:
    """The first private key in ``ssh_dir`` whose public half has a registered fingerprint."""
    directory = ssh_dir or Path.home() / ".ssh"
    if not directory.is_dir():
        return None
    for public in sorted(directory.glob("*.pub")):
        private = public.with_suffix("")
        if private.is_file() and fingerprint(public) in registered:
            return private
    return None


def proxy_command(env_id: str) -> str:
    """``ProxyCommand`` for a stopped environment (ssh_config splits it like a shell would;
    the parts are an executable path and an id: no user text)."""
    roost = shutil.which("roost")
    argv = [roost] if roost else [sys.executable, "-m", "roost"]
    return " ".join([*argv, "env", "ssh-proxy", env_id])

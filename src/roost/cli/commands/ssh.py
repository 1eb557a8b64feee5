"""SSH: ``roost ssh-key add|list|remove``, ``roost env ssh ID``, ``roost config-ssh``.

Both connecting commands use the stock OpenSSH client. Host keys come from the plane (each
runner publishes its gateway's key) into a known_hosts file Roost maintains next to its config
(``~/.config/roost/known_hosts``), under an alias per runner (``HostKeyAlias``), so ``ssh``
checks the gateway's key strictly -- no "trust on first use" prompt, and a changed key is an
error, as it should be.

``roost config-ssh`` writes one ``Host <name>.roost <id>.roost`` entry per environment you own
that has a runner, between marker lines in ``~/.ssh/config`` (at the top, so its values win
over a ``Host *`` below; run it again after creating environments). Then ``ssh <name>.roost``,
``scp``, ``sftp`` and VS Code Remote-SSH work with no Roost code involved.
"""

import os
import sys
from pathlib import Path
from typing import Any

import click

from roost.cli import config, envref
from roost.cli.client import Client
from roost.cli.context import client
from roost.cli.output import OUTPUT_OPTION, emit_json, show
from roost.cli.sshconfig import ANY_RUNNER, proxy_command
from roost.cli.sshconfig import identity_file as find_identity
from roost.core.errors import RoostError

BEGIN = "# --- BEGIN ROOST (written by `roost config-ssh`; edits here are overwritten) ---"
END = "# --- END ROOST ---"


@click.group("ssh-key")
def ssh_key() -> None:
    """Your SSH public keys (they open the environments you own)."""


@ssh_key.command("add")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True), required=False)
@click.option("--name", default="", help="A label (default: the key's comment).")
@OUTPUT_OPTION
def add(path: str | None, name: str, output: str) -> None:
    """Register a public key: a .pub file, - for stdin (default: ~/.ssh/id_ed25519.pub)."""
    if path == "-":
        text = sys.stdin.read()
    else:
        file = Path(path) if path else Path.home() / ".ssh" / "id_ed25519.pub"
        if not file.exists():
            raise RoostError(f"{file} does not exist; make a key with `ssh-keygen -t ed25519`")
        text = file.read_text()
    doc = client().post("/ssh-keys", {"public_key": text.strip(), "name": name})
    show(doc, output, [_row(doc)], HEADERS)


HEADERS = ["ID", "NAME", "FINGERPRINT", "ADDED"]


def _row(doc: dict[str, Any]) -> list[object]:
    return [doc["id"], doc["name"], doc["fingerprint"], doc["created_at"][:19]]


@ssh_key.command("list")
@OUTPUT_OPTION
def list_(output: str) -> None:
    """List your keys."""
    docs = client().get("/ssh-keys")
    show(docs, output, [_row(d) for d in docs], HEADERS)


@ssh_key.command("remove")
@click.argument("key")
def remove(key: str) -> None:
    """Remove a key by id or fingerprint (SHA256:...)."""
    client().request("DELETE", f"/ssh-keys/{key}")
    click.echo(f"removed {key}")


def known_hosts_path() -> Path:
    return config.config_path().parent / "known_hosts"


def alias(runner: dict[str, Any]) -> str:
    return f"roost-runner.{runner['name']}"


def write_known_hosts(runners: list[dict[str, Any]], *, any_runner: bool = False) -> Path:
    """Add or replace the entries of ``runners`` (others' lines are kept); with ``any_runner``,
    all of their keys under one more alias too (``sshconfig.ANY_RUNNER``)."""
    path = known_hosts_path()
    mine = {alias(r): f"{alias(r)} {r['ssh_host_key']}" for r in runners if r.get("ssh_host_key")}
    lines = path.read_text().splitlines() if path.exists() else []
    kept = [line for line in lines if line.split(" ", 1)[0] not in (*mine, ANY_RUNNER)]
    shared = [f"{ANY_RUNNER} {r['ssh_host_key']}" for r in runners if r.get("ssh_host_key")]
    _write_private(path, "\n".join([*kept, *mine.values(), *(shared if any_runner else [])]) + "\n")
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def resolve_env(api: Client, ref: str) -> dict[str, Any]:
    """An environment by id or name (``cli/envref.py``)."""
    doc: dict[str, Any] = api.get(f"/environments/{envref.resolve(ref)}")
    return doc


def gateway(api: Client, env: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
    """The environment's runner and its SSH host and port."""
    runner_id = env["status"].get("runner_id")
    if not runner_id:
        raise RoostError(f"environment {env['metadata']['id']} has no runner yet; is it running?")
    runner: dict[str, Any] = api.get(f"/runners/{runner_id}")
    if not runner.get("ssh_address") or not runner.get("ssh_host_key"):
        raise RoostError(f"runner {runner['name']} has no SSH gateway (start it with --ssh-listen)")
    host, _, port = runner["ssh_address"].rpartition(":")
    return runner, host, port


def ssh_options(runner: dict[str, Any], port: str) -> list[str]:
    return [
        "-p", port, "-o", f"HostKeyAlias={alias(runner)}",
        "-o", f"UserKnownHostsFile={known_hosts_path()}", "-o", "StrictHostKeyChecking=yes",
    ]  # fmt: skip


@click.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("env_ref", metavar="ENV", type=envref.ENV)
@click.argument("ssh_args", nargs=-1, type=click.UNPROCESSED)
def env_ssh(env_ref: str, ssh_args: tuple[str, ...]) -> None:
    """Connect with the stock ssh: roost env ssh ID [-- SSH ARGS / COMMAND...]."""
    api = client()
    env = resolve_env(api, env_ref)
    if env["status"]["phase"] != "running":
        env_id = env["metadata"]["id"]
        raise RoostError(
            f"environment {env_id} is {env['status']['phase']}; start it with "
            f"`roost env start {env_id} --wait`"
        )
    runner, host, port = gateway(api, env)
    write_known_hosts([runner])
    argv = ["ssh", *ssh_options(runner, port), f"{env['metadata']['id']}@{host}", *ssh_args]
    sys.stdout.flush()
    os.execvp("ssh", argv)  # noqa: S606 - the stock client, argv list, no shell


def host_block(
    envs: list[dict[str, Any]], runners: dict[str, dict[str, Any]], identity: Path | None = None
) -> list[str]:
    lines = [BEGIN]
    names = [e["metadata"]["name"] for e in envs]
    for env in envs:
        env_id, name = env["metadata"]["id"], env["metadata"]["name"]
        hosts = f"{name}.roost {env_id}.roost" if names.count(name) == 1 else f"{env_id}.roost"
        runner = runners.get(env["status"].get("runner_id") or "")
        if runner is not None and runner.get("ssh_address") and runner.get("ssh_host_key"):
            host, _, port = runner["ssh_address"].rpartition(":")
            where = [f"    HostName {host}", f"    Port {port}",
                     f"    HostKeyAlias {alias(runner)}"]  # fmt: skip
        elif env["status"].get("phase") in ("stopped", "stopping") or not runner:
            # started on demand, on a runner not chosen yet (sshconfig.py)
            where = [f"    ProxyCommand {proxy_command(env_id)}", f"    HostKeyAlias {ANY_RUNNER}"]
        else:
            continue  # its runner has no SSH gateway
        lines += [
            f"Host {hosts}", *where, f"    User {env_id}",
            f"    UserKnownHostsFile {known_hosts_path()}", "    StrictHostKeyChecking yes",
            *([f"    IdentityFile {identity}"] if identity else []),
        ]  # fmt: skip
    return [*lines, END]


def merge_block(existing: str, block: list[str]) -> str:
    """Replace the marked block, or put it first (OpenSSH takes the first value it finds)."""
    lines = existing.splitlines()
    if BEGIN in lines and END in lines[lines.index(BEGIN) :]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        lines[start : end + 1] = block
    else:
        lines = [*block, "", *lines] if lines else block
    return "\n".join(lines) + "\n"


@click.command("config-ssh")
@click.option("--ssh-config", type=click.Path(path_type=Path), default=None,
              help="The file to write (default: ~/.ssh/config).")  # fmt: skip
@click.option("--identity-file", type=click.Path(path_type=Path), default=None,
              help="Private key to use (default: the registered one in ~/.ssh).")  # fmt: skip
@OUTPUT_OPTION
def config_ssh(ssh_config: Path | None, identity_file: Path | None, output: str) -> None:
    """Write Host entries so that `ssh <name>.roost` reaches your environments.

    Stopped environments get an entry too: ssh starts them (`roost env ssh-proxy`).

    \b
    Examples:
      roost config-ssh && ssh dev.roost
      roost config-ssh --identity-file ~/.ssh/work_ed25519
    """
    api = client()
    envs = [e for e in api.list_all("/environments", mine=True)
            if e["spec"]["desired_phase"] != "deleted"]  # fmt: skip
    runners = {r["id"]: r for r in api.list_all("/runners")}
    write_known_hosts(list(runners.values()), any_runner=True)
    path = ssh_config or Path.home() / ".ssh" / "config"
    if identity_file is None:
        registered = {k["fingerprint"] for k in api.get("/ssh-keys")}
        identity_file = find_identity(registered)
    block = host_block(envs, runners, identity_file)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _write_private(path, merge_block(path.read_text() if path.exists() else "", block))
    hosts = [line.split()[1:] for line in block if line.startswith("Host ")]
    if output == "json":
        emit_json({"ssh_config": str(path), "hosts": [h for group in hosts for h in group]})
        return
    for group in hosts:
        click.echo(f"  ssh {group[0]}")
    click.echo(f"wrote {len(hosts)} host(s) to {path}")

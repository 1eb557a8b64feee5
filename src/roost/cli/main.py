"""Entry point: ``roost``. Errors go to stderr: exit 1 for failures, 2 for usage."""

import sys

import click

from roost import __version__
from roost.cli.commands import (
    admin_edit,
    audit,
    completion,
    devcontainer,
    doctor,
    dotfiles,
    env,
    env_backup,
    env_move,
    env_runner,
    image,
    org,
    ports,
    project,
    secret,
    serve,
    ssh,
    ssh_proxy,
    token,
)
from roost.core.errors import RoostError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roost")
def cli() -> None:
    """Roost: self-hosted development environments."""


for command in (
    env.env,
    org.org,
    org.user,
    project.project,
    project.class_,
    token.token,
    token.login,
    token.whoami,
    serve.server,
    serve.runner,
    serve.up,
    image.image,
    devcontainer.devcontainer,
    ssh.ssh_key,
    ssh.config_ssh,
    secret.secret,
    completion.completion,
    audit.audit,
    doctor.doctor,
):
    cli.add_command(command)
env.env.add_command(ssh.env_ssh)
env.env.add_command(ports.ports)
# env_runner, env_move, env_backup, dotfiles, ssh_proxy, admin_edit add their commands to their
# groups when imported
_ = (
    dotfiles.dotfiles,
    env_runner.logs,
    env_move.move,
    env_backup.backup,
    ssh_proxy.ssh_proxy,
    admin_edit.class_update,
)


def main() -> None:
    try:
        cli(standalone_mode=False, prog_name="roost")
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RoostError as exc:
        code = f" [{exc.code}]" if exc.code not in ("error",) else ""
        click.echo(f"error{code}: {exc.message}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)

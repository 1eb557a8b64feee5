"""``roost user dotfiles set URL | clear``: your dotfiles repository, installed into each new
environment after ``postCreateCommand`` (``roost whoami`` shows it)."""

import click

from roost.cli.commands.org import user
from roost.cli.context import client


@user.group("dotfiles")
def dotfiles() -> None:
    """Your dotfiles repository (cloned to ~/dotfiles; its install script runs)."""


@dotfiles.command("set")
@click.argument("url")
def set_(url: str) -> None:
    """Use URL for environments you create from now on."""
    client().request("PUT", "/users/me/dotfiles", json={"url": url})
    click.echo(f"dotfiles: {url}")


@dotfiles.command("clear")
def clear() -> None:
    """No dotfiles in new environments."""
    client().request("PUT", "/users/me/dotfiles", json={"url": None})
    click.echo("dotfiles cleared")

"""``roost completion bash|zsh|fish``: the shell completion script (click's), which completes
commands, options and environment names (``cli/envref.py``).

    eval "$(roost completion bash)"          # in ~/.bashrc
    eval "$(roost completion zsh)"           # in ~/.zshrc
    roost completion fish > ~/.config/fish/completions/roost.fish
"""

import click
from click.shell_completion import get_completion_class

COMPLETE_VAR = "_ROOST_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Examples:
      eval "$(roost completion bash)"     # add to ~/.bashrc
      roost completion fish > ~/.config/fish/completions/roost.fish
    """
    cls = get_completion_class(shell)
    if cls is None:  # the choice above lists only shells click supports
        raise click.UsageError(f"no completion for {shell}")
    root = ctx.find_root().command
    click.echo(cls(root, {}, "roost", COMPLETE_VAR).source())

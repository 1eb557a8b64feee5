"""Dotfiles: a user's personal configuration repository, installed into each new environment.

After ``postCreateCommand`` the runner clones it into the remote user's home (``~/dotfiles``)
and runs its install script (see ``roost.runner.dotfiles``). The setting is the user's; runners
read it for the environments they run, through a runner-only endpoint.
"""

from pydantic import Field, field_validator

from roost.core import repo_urls
from roost.core.schemas.base import Input, Output


class DotfilesUpdate(Input):
    """``roost user dotfiles set URL``; ``None`` clears it."""

    url: str | None = Field(default=None, max_length=2000)

    @field_validator("url")
    @classmethod
    def _git_url(cls, url: str | None) -> str | None:
        if url is None or url == "":
            return None
        return repo_urls.check(url)


class Dotfiles(Output):
    url: str | None = None

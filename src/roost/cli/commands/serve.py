"""``roost server``, ``roost runner`` (run one) and ``roost up`` (both, one process, SQLite).

The plane and runner modules are imported inside the commands that run them: everyday commands
(``roost env list``) then start in a fraction of the time.
"""

import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from roost.cli import config
from roost.cli.commands import runner_admin

if TYPE_CHECKING:
    from roost.server.settings import Settings


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/roost")
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "roost"


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r}: use HOST:PORT, like 127.0.0.1:8080")
    return host or "127.0.0.1", int(port)


def plane_settings(data_dir: Path, database: str | None, listen: str) -> "Settings":
    from roost.server.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    host, port = split_listen(listen)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return Settings(
        database_url=database or f"sqlite:///{data_dir / 'roost.db'}",
        data_dir=data_dir,
        public_url=f"http://{shown}:{port}",
    )


async def serve_plane(
    settings: "Settings", listen: str, on_ready: asyncio.Event | None = None
) -> None:
    import uvicorn

    from roost.server.app import create_app

    host, port = split_listen(listen)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.02)
    if on_ready is not None:
        on_ready.set()
    await task


def announce(settings: "Settings") -> None:
    token_path = settings.data_dir / "admin-token"
    click.echo(f"Roost is listening on {settings.public_url}", err=True)
    if token_path.exists():
        click.echo(f"admin token: {token_path} (mode 0600)", err=True)
        click.echo(
            f'log in with: roost login {settings.public_url} --token "$(cat {token_path})"',
            err=True,
        )


@click.command("server")
@click.option(
    "--database",
    help="Database URL (default: SQLite in the data dir). "
    "PostgreSQL: postgresql://user:pass@host/db",
)
@click.option("--listen", default="127.0.0.1:8080", show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=default_data_dir)
def server(database: str | None, listen: str, data_dir: Path) -> None:
    """Run the management plane."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = plane_settings(data_dir, database, listen)
    ready = asyncio.Event()

    async def main() -> None:
        waiter = asyncio.create_task(ready.wait())
        plane = asyncio.create_task(serve_plane(settings, listen, ready))
        await asyncio.wait({waiter, plane}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            announce(settings)
        await plane

    asyncio.run(main())


@click.group("runner", invoke_without_command=True)
@click.option("--server", "server_url", envvar="ROOST_URL", help="The plane's URL.")
@click.option("--token", envvar="ROOST_RUNNER_TOKEN", help="Registration token (first start).")
@click.option("--name", help="Runner name (default: host name).")
@click.option("--region", default="default", show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
@click.pass_context
def runner(
    ctx: click.Context,
    server_url: str | None,
    token: str | None,
    name: str | None,
    region: str,
    data_dir: Path | None,
) -> None:
    """Run a runner on this host (or manage runners: list, token, delete)."""
    if ctx.invoked_subcommand is not None:
        return
    raise click.ClickException("the runner arrives with the runtime (issue 3)")


runner_admin.add_commands(runner)


@click.command("up")
@click.option("--data-dir", type=click.Path(path_type=Path), default=default_data_dir)
@click.option("--listen", default="127.0.0.1:8080", show_default=True)
def up(data_dir: Path, listen: str) -> None:
    """Run the plane and a local runner in one process, on SQLite in DATA_DIR."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = plane_settings(data_dir, None, listen)

    async def main() -> None:
        ready = asyncio.Event()
        plane = asyncio.create_task(serve_plane(settings, listen, ready))
        await asyncio.wait(
            {asyncio.create_task(ready.wait()), plane}, return_when=asyncio.FIRST_COMPLETED
        )
        if ready.is_set():
            announce(settings)
            _login_local_cli(settings)
        await plane

    asyncio.run(main())


def _login_local_cli(settings: "Settings") -> None:
    """Point this user's CLI at the local plane, unless it already points somewhere else."""
    token_path = settings.data_dir / "admin-token"
    current = config.saved_url()
    if token_path.exists() and current in (None, settings.public_url):
        path = config.save(settings.public_url, token_path.read_text().strip())
        click.echo(f"the roost CLI is logged in as admin ({path})", err=True)

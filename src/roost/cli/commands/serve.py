"""``roost server``, ``roost runner`` (run one) and ``roost up`` (both, one process, SQLite).

The plane and runner modules are imported inside the commands that run them: everyday commands
(``roost env list``) then start in a fraction of the time.
"""

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from roost.cli import config, logs
from roost.cli.commands import runner_admin

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from roost.runner.config import RunnerConfig
    from roost.server.settings import OidcSettings, Settings


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/roost")
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share") / "roost"


def split_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{listen!r}: use HOST:PORT, like 127.0.0.1:8080")
    return host or "127.0.0.1", int(port)


def plane_settings(
    data_dir: Path,
    database: str | None,
    listen: str,
    *,
    upgrade_db: bool = False,
    lease_seconds: float = 30.0,
    oidc: "OidcSettings | None" = None,
    runner_inside: bool = False,
) -> "Settings":
    from roost.server.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    host, port = split_listen(listen)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    return Settings(
        database_url=database or f"sqlite:///{data_dir / 'roost.db'}",
        data_dir=data_dir,
        public_url=f"http://{shown}:{port}",
        upgrade_db=upgrade_db,
        lease_seconds=lease_seconds,
        oidc=oidc,
        runner_inside=runner_inside,
    )


def oidc_options(func: "Callable[..., Any]") -> "Callable[..., Any]":
    """OpenID Connect sign-in for the dashboard (all of issuer, client id and secret, or none)."""
    options = [
        click.option("--oidc-issuer", default=None, help="The provider's issuer URL."),
        click.option("--oidc-client-id", default=None),
        click.option("--oidc-client-secret-file", type=click.Path(path_type=Path), default=None,
                     help="A file holding the client secret (kept out of argv and ps)."),
        click.option("--oidc-name", default="OpenID Connect", show_default=True,
                     help="What the sign-in button calls the provider."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def oidc_settings(kwargs: dict[str, Any]) -> "OidcSettings | None":
    from roost.server.settings import OidcSettings

    issuer = kwargs.pop("oidc_issuer")
    client_id = kwargs.pop("oidc_client_id")
    secret_file = kwargs.pop("oidc_client_secret_file")
    name = kwargs.pop("oidc_name")
    given = [v is not None for v in (issuer, client_id, secret_file)]
    if not any(given):
        return None
    if not all(given):
        raise click.UsageError(
            "OpenID Connect needs --oidc-issuer, --oidc-client-id and --oidc-client-secret-file"
        )
    secret = Path(secret_file).read_text().strip()
    return OidcSettings(issuer=issuer, client_id=client_id, client_secret=secret, name=name)


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
    if on_ready is not None and server.started:
        on_ready.set()
    await task
    if not server.started:
        raise click.ClickException("the plane did not start: see the message above")


def announce(settings: "Settings") -> None:
    token_path = settings.data_dir / "admin-token"
    click.echo(f"Roost is listening on {settings.public_url}", err=True)
    click.echo(f"dashboard: {settings.public_url}/ (sign in: `roost login --web`)", err=True)
    if token_path.exists():
        click.echo(f"admin token: {token_path} (mode 0600)", err=True)
        click.echo(
            f'log in with: roost login {settings.public_url} --token "$(cat {token_path})"',
            err=True,
        )


@click.group("server", invoke_without_command=True)
@click.option(
    "--database",
    help="Database URL (default: SQLite in the data dir). "
    "PostgreSQL: postgresql://user:pass@host/db",
)
@click.option("--listen", default="127.0.0.1:8080", show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=default_data_dir)
@click.option(
    "--upgrade-db",
    is_flag=True,
    help="Upgrade an older PostgreSQL schema (stop older replicas first).",
)
@click.option("--lease-seconds", type=click.FloatRange(1, 3600), default=30.0, show_default=True,
              help="How long a replica's claim on an object lasts; if the replica dies, "
                   "another finishes its work after this long.")  # fmt: skip
@oidc_options
@click.pass_context
def server(
    ctx: click.Context,
    /,
    database: str | None,
    listen: str,
    data_dir: Path,
    upgrade_db: bool,
    lease_seconds: float,
    **oidc: Any,
) -> None:
    """Run the management plane (or move its database: migrate-db)."""
    if ctx.invoked_subcommand is not None:
        return
    _logging()
    settings = plane_settings(
        data_dir, database, listen, upgrade_db=upgrade_db, lease_seconds=lease_seconds,
        oidc=oidc_settings(oidc),
    )  # fmt: skip
    ready = asyncio.Event()

    async def main() -> None:
        waiter = asyncio.create_task(ready.wait())
        plane = asyncio.create_task(serve_plane(settings, listen, ready))
        await asyncio.wait({waiter, plane}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            announce(settings)
        await plane

    run_service(main())


@server.command("migrate-db")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SQLITE_PATH|URL",
    help="The current database: a SQLite file or a database URL.",
)
@click.option("--to", "target", required=True, metavar="URL",
              help="An empty database, e.g. postgresql://user:pass@host/roost.")  # fmt: skip
def migrate_db(source: str, target: str) -> None:
    """Copy the whole installation into another database (stop the plane first)."""
    from roost.server.store.transfer import TargetNotEmpty, copy_database

    if "://" not in source:
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"{source}: no such SQLite file", param_hint="--from")
        source = f"sqlite:///{path.resolve()}"
    try:
        copied = asyncio.run(copy_database(source, target))
    except TargetNotEmpty as e:
        raise click.ClickException(str(e)) from e
    from sqlalchemy.engine import make_url

    shown = make_url(target).render_as_string(hide_password=True)
    click.echo(f"copied {sum(copied.values())} rows in {len(copied)} tables; now start: "
               f"roost server --database {shown} (keep the same --data-dir: it holds the "
               "secrets key)", err=True)  # fmt: skip


def host_options(func: "Callable[..., Any]") -> "Callable[..., Any]":
    """Options of the runner half, shared by ``roost runner`` and ``roost up``."""
    options = [
        click.option("--bridge", default="roost0", show_default=True,
                     help="Bridge for environments."),
        click.option("--subnet", default="10.211.0.0/16", show_default=True,
                     help="Environment addresses (avoid 10.88/16 and 172.17/16)."),
        click.option("--nft-table", default="roost", show_default=True,
                     help="nftables table (and network-namespace prefix) of this runner."),
        click.option("--cgroup-parent", default="roost", show_default=True),
        click.option("--cpu-control/--no-cpu-control", default=True, show_default=True,
                     help="Fair CPU shares with burst budgets; off: the class CPU is a fixed cap."),
        click.option("--disk-quotas/--no-disk-quotas", default=True, show_default=True,
                     help="A filesystem of the class's size per environment."),
        click.option("--ids-dir", type=click.Path(path_type=Path),
                     default=Path("/var/lib/roost/ids"), show_default=True,
                     help="Host-wide uid-range allocations."),
        click.option("--images-dir", type=click.Path(path_type=Path), default=None,
                     help="Image store (default: <data-dir>/images); runners may share one."),
        click.option("--max-environments", default=500, show_default=True,
                     help="Environments this runner takes at most."),
        click.option("--insecure-registry", "insecure_registries", multiple=True,
                     help="Registry to reach over plain HTTP (loopback always is)."),
        click.option("--ssh-listen", default=None,
                     help="SSH gateway address (default: 0.0.0.0:2222 for `roost runner`, "
                          "the --listen port + 2 for `roost up`; `off`: no gateway)."),
        click.option("--ssh-address", default=None,
                     help="HOST:PORT users give ssh, if not the gateway's own address."),
        click.option("--proxy-domain", default=None,
                     help="Port proxy: <port>-<env-id>.DOMAIN (default: from the access URL; "
                          "localhost for a loopback or bare-address runner)."),
        click.option("--backup-repository", default=None,
                     help="Backups: a directory (default /var/lib/roost/backups; for `roost up` "
                          "<data-dir>/backups) or s3:https://HOST/BUCKET/PREFIX (AWS_* "
                          "credentials from the environment)."),
        click.option("--backup-interval", "backup_interval_seconds", type=float, default=3600.0,
                     show_default=True,
                     help="Seconds between backups of running environments (0: only at stop)."),
        click.option("--backup-limit-upload", "backup_limit_upload_kib", type=int, default=None,
                     help="Backup upload limit, KiB/s."),
        click.option("--backup-limit-download", "backup_limit_download_kib", type=int,
                     default=None, help="Restore download limit, KiB/s."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _host_settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("bridge", "subnet", "nft_table", "cgroup_parent", "ids_dir", "images_dir",
            "insecure_registries", "max_environments", "cpu_control", "disk_quotas",
            "ssh_listen", "ssh_address",
            "proxy_domain", "backup_repository",
            "backup_interval_seconds", "backup_limit_upload_kib",
            "backup_limit_download_kib")  # fmt: skip
    found = {k: kwargs.pop(k) for k in keys}
    if found["ssh_listen"] == "off":
        found["ssh_listen"] = ""  # no gateway
    if found["backup_repository"] is None:
        del found["backup_repository"]  # the runner's default
    return found


@click.group("runner", invoke_without_command=True)
@click.option("--server", "server_url", envvar="ROOST_URL", help="The plane's URL.")
@click.option("--token", envvar="ROOST_RUNNER_TOKEN", help="Registration token (first start only).")
@click.option("--name", default=None, help="Runner name (default: this host's name).")
@click.option("--region", default="default", show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Default: /var/lib/roost/runner.")  # fmt: skip
@click.option("--access-listen", default="0.0.0.0:8081", show_default=True,
              help="Where users reach this runner (exec, SSH, ports).")  # fmt: skip
@click.option("--access-url", default=None, help="How users reach --access-listen from outside.")
@click.option("--label", "labels", multiple=True, help="KEY=VALUE, repeatable.")
@host_options
@click.pass_context
def runner(ctx: click.Context, /, **kwargs: Any) -> None:
    """Run a runner on this host (or manage runners: list, token, delete)."""
    if ctx.invoked_subcommand is not None:
        return
    if not kwargs["server_url"]:
        raise click.UsageError("--server URL is required (or ROOST_URL)")
    from roost.runner.config import RunnerConfig

    host = _host_settings(kwargs)
    if host["ssh_listen"] is None:
        host["ssh_listen"] = "0.0.0.0:2222"  # every interface, like sshd
    config = RunnerConfig(
        server_url=kwargs["server_url"],
        data_dir=kwargs["data_dir"] or default_data_dir() / "runner",
        name=kwargs["name"] or host_name(), region=kwargs["region"],
        registration_token=kwargs["token"], access_listen=kwargs["access_listen"],
        access_url=kwargs["access_url"] or _reachable(kwargs["access_listen"]),
        labels=dict(_label(x) for x in kwargs["labels"]), **host,
    )  # fmt: skip
    _logging()
    run_service(_run_until_signal(_runner_main(config)))


def run_service(main: "Coroutine[Any, Any, None]") -> None:
    """Run a long-lived service on uvloop: the plane and the runner spend their time in the
    event loop, and uvloop's is several times faster than the standard one."""
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


def _label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"{text!r}: use KEY=VALUE")
    return key, value


def host_name() -> str:
    import socket

    raw = socket.gethostname().split(".")[0].lower()
    return "".join(c if c.isalnum() or c == "-" else "-" for c in raw).strip("-") or "runner"


def _reachable(listen: str) -> str:
    host, port = split_listen(listen)
    if host in ("0.0.0.0", "::", ""):  # noqa: S104
        import socket

        host = socket.gethostname()
    return f"http://{host}:{port}"


async def _runner_main(config: "RunnerConfig", ready: asyncio.Event | None = None) -> None:
    from roost.runner.assembly import run_runner

    await run_runner(config, ready)


async def _run_until_signal(main: "Coroutine[Any, Any, None]") -> None:
    """Run ``main`` until SIGINT/SIGTERM; environments keep running after the runner stops."""
    import signal

    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        click.echo("stopped (environments keep running)", err=True)


def _logging() -> None:
    """ROOST_LOG_LEVEL (INFO; DEBUG shows each reconcile step and its duration) and
    ROOST_LOG_FORMAT (text or json): see :mod:`roost.cli.logs`."""
    logs.configure()


runner_admin.add_commands(runner)


@click.command("up")
@click.option("--data-dir", type=click.Path(path_type=Path), default=default_data_dir)
@click.option("--listen", default="127.0.0.1:8080", show_default=True)
@click.option(
    "--access-listen", default=None, help="The runner's access address (default: port+1)."
)
@click.option("--plane-only", is_flag=True, help="Do not start the local runner.")
@host_options
def up(data_dir: Path, listen: str, access_listen: str | None, plane_only: bool,
       **host: Any) -> None:  # fmt: skip
    """Run the plane and a local runner in one process, on SQLite in DATA_DIR."""
    _logging()
    settings = plane_settings(data_dir, None, listen, runner_inside=not plane_only)
    host_name_, port = split_listen(listen)
    access = access_listen or f"{host_name_}:{port + 1}"

    async def main() -> None:
        ready = asyncio.Event()
        plane = asyncio.create_task(serve_plane(settings, listen, ready))
        await asyncio.wait({asyncio.create_task(ready.wait()), plane},
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if not ready.is_set():
            await plane  # raises what stopped it
            return
        announce(settings)
        _login_local_cli(settings)
        if plane_only:
            await plane
            return
        runner_host = _host_settings(host)
        if runner_host["ssh_listen"] is None:
            runner_host["ssh_listen"] = f"{host_name_}:{port + 2}"
        runner_host.setdefault("backup_repository", str(data_dir / "backups"))
        config = await _local_runner_config(settings, data_dir, access, runner_host)
        runner_ready = asyncio.Event()
        runner_task = asyncio.create_task(_runner_main(config, runner_ready))
        await asyncio.wait({asyncio.create_task(runner_ready.wait()), runner_task},
                           return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        if runner_ready.is_set():
            ssh = f", ssh {config.public_ssh_address}" if config.public_ssh_address else ""
            click.echo(f"local runner {config.name} is ready (access {config.public_access_url}"
                       f"{ssh})", err=True)  # fmt: skip
            click.echo("it clones local paths given as repositories (single-user mode), "
                       "unprivileged: only what any local user may read", err=True)  # fmt: skip
        await asyncio.gather(plane, runner_task)

    run_service(_run_until_signal(main()))


async def _local_runner_config(
    settings: "Settings", data_dir: Path, access: str, host: dict[str, Any]
) -> "RunnerConfig":
    """The local runner registers itself with a registration token made with the admin token."""
    import httpx

    from roost.runner.config import RunnerConfig

    runner_dir = data_dir / "runner"
    token = None
    if not (runner_dir / "runner.json").exists():
        admin = (settings.data_dir / "admin-token").read_text().strip()
        async with httpx.AsyncClient(base_url=settings.public_url) as http:
            r = await http.post("/api/v1/runners/registration-tokens", json={"name": "roost up"},
                                headers={"Authorization": f"Bearer {admin}"})  # fmt: skip
            r.raise_for_status()
            token = r.json()["secret"]
    return RunnerConfig(
        server_url=settings.public_url, data_dir=runner_dir, name=host_name(),
        registration_token=token, access_listen=access, access_url=f"http://{access}",
        allow_local_repos=True, **host,
    )  # fmt: skip


def _login_local_cli(settings: "Settings") -> None:
    """Point this user's CLI at the local plane, unless it already points somewhere else."""
    token_path = settings.data_dir / "admin-token"
    current = config.saved_url()
    if token_path.exists() and current in (None, settings.public_url):
        path = config.save(settings.public_url, token_path.read_text().strip())
        click.echo(f"the roost CLI is logged in as admin ({path})", err=True)

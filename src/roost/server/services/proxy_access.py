"""Port proxy admission: who may reach a port of an environment through its runner.

The runner asks for every request it has no fresh answer for (it keeps an *allowing* answer
for :data:`DECISION_CACHE_SECONDS` at most, and never keeps a refusal), and the plane decides
from the current state -- the spec's ports, the organization's cap, the environment's phase,
the credential -- so closing a port or tightening the policy takes effect within seconds.

Admission (the port's, capped by the organization's ``max_port_admission``):

* ``public``: anyone, no credential needed;
* ``organization``: members of the environment's organization (any role);
* ``owner``: the environment's owner only.

Credentials: a user token (``Authorization: Bearer``, for scripts and the CLI) or a **proxy
session**, which a browser gets by opening a login link (:func:`login`: a one-use token, valid
for a minute, issued to the owner or an organization member) that the runner exchanges
(:func:`create_session`) for a session token kept in an HttpOnly cookie. Session tokens open
proxied ports of one environment only and are refused by the API (``auth.py``).

Every refusal is audited (``environment.proxy``); allowed requests are not -- they are counted
as activity instead -- but opening a session is (``environment.proxy_login``).
"""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import access_urls
from roost.core.errors import Conflict, NotFound, Unauthenticated
from roost.core.schemas.environments import EnvironmentSpec, Port
from roost.core.schemas.organizations import Admission
from roost.core.schemas.proxy import (
    ProxyAuthorize,
    ProxyDecision,
    ProxyLogin,
    ProxySession,
    ProxySessionCreate,
)
from roost.core.schemas.runners import RunnerInfo
from roost.server.services import audit, ports, tokens
from roost.server.services.context import Context, Principal
from roost.server.services.ssh_access import check_runner
from roost.server.store.rows import (
    EnvironmentRow,
    MembershipRow,
    OrganizationRow,
    RunnerRow,
    TokenRow,
    UserRow,
)

LOGIN_SECONDS = 60
SESSION_SECONDS = 12 * 3600
DECISION_CACHE_SECONDS = 5.0


def _login_hint(env_id: str, port: int) -> str:
    return f"`roost env ports {env_id} login {port}`"


async def login(ctx: Context, principal: Principal, env_id: str, port: int) -> ProxyLogin:
    """A one-use browser login link for a port, for its owner or an organization member."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        env = await session.get(EnvironmentRow, env_id)
        allowed = (
            env is not None
            and principal.kind == "user"
            and (
                env.owner_id == principal.user_id
                or await _is_member(session, principal.user_id, env.organization_id)
            )
        )
        if env is None or not allowed:
            audit.record(session, now, principal, "environment.proxy_login", "environment",
                         env_id, outcome="denied",
                         details={"port": port, "reason": "not a member"})  # fmt: skip
            refused = True
        else:
            refused = False
            info = await _runner_info(session, env, port)
            _, token = await tokens.issue(
                session, now, scope="proxy_login", name=f"proxy login {port}",
                user_id=principal.user_id, environment_id=env.id, expires_in=LOGIN_SECONDS,
            )  # fmt: skip
    if refused:
        raise NotFound(f"environment {env_id} not found")
    access = str(info.access_url)
    domain = info.proxy_domain or access_urls.default_domain(access)
    query = f"?roost_token={token}"
    return ProxyLogin(
        url=access_urls.host_url(access, domain, env_id, port) + query,
        path_url=access_urls.path_url(access, env_id, port) + query,
        expires_at=now + timedelta(seconds=LOGIN_SECONDS),
    )


async def _runner_info(session: AsyncSession, env: EnvironmentRow, port: int) -> RunnerInfo:
    if _port(env, port) is None:
        raise Conflict(
            f"port {port} of environment {env.id} is not open; its owner opens it with "
            f"`roost env ports {env.id} open {port}`",
            code="port_closed",
        )
    runner = await session.get(RunnerRow, env.runner_id) if env.runner_id else None
    if env.phase != "running" or runner is None:
        raise Conflict(
            f"environment {env.id} is {env.phase}; start it with `roost env start {env.id}`",
            code="environment_not_running",
        )
    info = RunnerInfo(**runner.info)
    if not info.access_url:
        raise Conflict(f"runner {runner.name} accepts no connections (it has no access URL)")
    return info


async def create_session(
    ctx: Context, principal: Principal, runner_id: str, body: ProxySessionCreate
) -> ProxySession:
    """For runners: spend a login token and make a proxy session for its user."""
    check_runner(principal, runner_id)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user, reason = await _spend_login(session, now, runner_id, body)
        env = await session.get(EnvironmentRow, body.environment_id)
        result: ProxySession | None = None
        if user is not None:
            row, token = await tokens.issue(
                session, now, scope="proxy", name=f"proxy session {body.port}", user_id=user.id,
                environment_id=body.environment_id, expires_in=SESSION_SECONDS,
            )  # fmt: skip
            result = ProxySession(token=token, user_name=user.name, expires_at=row.expires_at)
        audit.record(
            session, now, None, "environment.proxy_login", "environment", body.environment_id,
            organization_id=env.organization_id if env else None,
            outcome="allowed" if user else "denied",
            details={"port": body.port, "runner": runner_id} | ({} if user else {"reason": reason}),
            actor=f"user:{user.id}" if user else "anonymous",
        )  # fmt: skip
    if result is None:
        raise Unauthenticated(
            f"{reason}; get a new login link with {_login_hint(body.environment_id, body.port)}"
        )
    return result


async def _spend_login(
    session: AsyncSession, now: datetime, runner_id: str, body: ProxySessionCreate
) -> tuple[UserRow | None, str]:
    try:
        row = await tokens.verify(session, body.login_token, now)
    except Unauthenticated as exc:
        return None, f"this login link is not valid ({exc.message.split(';')[0]})"
    row.revoked_at = now  # one use, whatever happens next
    env = await session.get(EnvironmentRow, body.environment_id)
    if (
        row.scope != "proxy_login" or row.environment_id != body.environment_id
        or env is None or env.runner_id != runner_id or row.user_id is None
    ):  # fmt: skip
        return None, "this login link is for another environment"
    return await session.get(UserRow, row.user_id), "the link's user no longer exists"


async def authorize(
    ctx: Context, principal: Principal, runner_id: str, body: ProxyAuthorize
) -> ProxyDecision:
    """For runners: may this request through? Refusals are audited, allowing answers cached."""
    check_runner(principal, runner_id)
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        env = await session.get(EnvironmentRow, body.environment_id)
        decision, actor = await _decide(session, now, runner_id, env, body)
    if not decision.allowed:
        await audit.record_denied(
            ctx, None, "environment.proxy", "environment", body.environment_id, decision.message,
            organization_id=env.organization_id if env else None, actor=actor,
        )  # fmt: skip
    return decision


def _deny(
    status: int, code: str, message: str, admission: Admission | None = None
) -> ProxyDecision:
    return ProxyDecision(allowed=False, status=status, code=code, message=message,
                         admission=admission)  # fmt: skip


def _port(env: EnvironmentRow, number: int) -> Port | None:
    """The spec's port, or one the runner forwards from the devcontainer's ``forwardPorts``
    (owner admission: it opens nothing the owner cannot reach over SSH anyway)."""
    spec = EnvironmentSpec.model_validate(env.spec)
    found = next((p for p in spec.ports if p.port == number), None)
    if found is not None:
        return found
    details = env.status.get("conditions", {}).get("ports", {}).get("details", {})
    forwarded = details.get("forwarded") if isinstance(details, dict) else None
    if isinstance(forwarded, list) and number in forwarded:
        return Port(port=number, admission="owner", name="forwardPorts")
    return None


async def _decide(
    session: AsyncSession,
    now: datetime,
    runner_id: str,
    env: EnvironmentRow | None,
    body: ProxyAuthorize,
) -> tuple[ProxyDecision, str]:
    """The decision, and who asked (for the audit trail)."""
    if env is None:
        return _deny(404, "not_found", f"no environment {body.environment_id} here"), "anonymous"
    port = _port(env, body.port)
    unavailable = _unavailable(env, port, body.port)
    if unavailable is None and env.runner_id != runner_id:
        unavailable = _deny(404, "not_found", f"environment {env.id} does not run here")
    if unavailable is not None or port is None:
        return unavailable or _deny(404, "port_closed", ""), "anonymous"
    org = await session.get(OrganizationRow, env.organization_id)
    cap = ports.policy_of(org).max_port_admission if org else "owner"
    admission = ports.effective(port.admission, cap)
    if admission == "public":
        return _allow(admission, None), "anonymous"
    user, problem = await _credential_user(session, now, env, body)
    actor = f"user:{user.id}" if user else "anonymous"
    scope = "its owner" if admission == "owner" else "members of its organization"
    if user is None:
        hint = f"log in with {_login_hint(env.id, body.port)} or send 'Authorization: Bearer'"
        return _deny(401, "unauthenticated", (
            f"{problem or 'you are not logged in'}: port {body.port} of environment {env.id} "
            f"is open to {scope} only; {hint}"), admission), actor  # fmt: skip
    ok = user.id == env.owner_id or (
        admission == "organization" and await _is_member(session, user.id, env.organization_id)
    )
    if not ok:
        return _deny(403, "forbidden", (
            f"port {body.port} of environment {env.id} is open to {scope} only"),
            admission), actor  # fmt: skip
    return _allow(admission, user.name), actor


def _unavailable(env: EnvironmentRow, port: Port | None, number: int) -> ProxyDecision | None:
    """A stopped environment or a closed port, whoever asks. Messages name the environment
    by the id the asker already knows, never by its name."""
    if env.phase != "running" or env.desired_phase != "running":
        return _deny(503, "environment_not_running", (
            f"environment {env.id} is {env.phase}; its owner can start it with "
            f"`roost env start {env.id}`"))  # fmt: skip
    if port is None:
        return _deny(404, "port_closed", (
            f"port {number} of environment {env.id} is not open; its owner can open it "
            f"with `roost env ports {env.id} open {number}`"))  # fmt: skip
    return None


def _allow(admission: Admission, user_name: str | None) -> ProxyDecision:
    return ProxyDecision(
        allowed=True, admission=admission, user_name=user_name,
        cache_seconds=DECISION_CACHE_SECONDS,
    )  # fmt: skip


async def _credential_user(
    session: AsyncSession, now: datetime, env: EnvironmentRow, body: ProxyAuthorize
) -> tuple[UserRow | None, str]:
    """The user behind the credential, or ``None`` and what is wrong with it."""
    if not body.credential:
        return None, ""
    try:
        row: TokenRow = await tokens.verify(session, body.credential, now)
    except Unauthenticated as exc:
        expired = "expired" in exc.message or "revoked" in exc.message
        return None, "your session has expired" if expired else "your credential is not valid"
    if row.scope == "proxy" and row.environment_id != env.id:
        return None, "your session is for another environment"
    if row.scope not in ("user", "proxy") or row.user_id is None:
        return None, "this token cannot open proxied ports"
    return await session.get(UserRow, row.user_id), "your user no longer exists"


async def _is_member(session: AsyncSession, user_id: str | None, org_id: str) -> bool:
    if user_id is None:
        return False
    found = await session.scalar(
        select(MembershipRow.role).where(
            MembershipRow.organization_id == org_id, MembershipRow.user_id == user_id
        )
    )
    return found is not None

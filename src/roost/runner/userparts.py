"""What users bring into their environments -- secrets, dotfiles, automations -- wired for
``Assembly.build`` in one place.

Order matters and is set here: the secrets step comes before the content step (a private
repository's credential is a secret) and before the devcontainer step (secret files exist when
its hooks run); dotfiles install after ``postCreateCommand``; automations start after the
devcontainer has settled. Every driver the runner uses for an environment is wrapped so that the
processes it starts get the environment's secret variables.
"""

from dataclasses import dataclass

from aiohttp import web

from roost.core.schemas.access import TicketGrant
from roost.core.schemas.environments import Environment
from roost.runner.access import logs as logs_routes
from roost.runner.automations import routes as automation_routes
from roost.runner.automations.step import AutomationsStep
from roost.runner.client import PlaneClient
from roost.runner.devcontainer.logs import LogStore
from roost.runner.devcontainer.step import DevcontainerStep
from roost.runner.dotfiles import DotfilesStep
from roost.runner.reporter import Reporter
from roost.runner.runtime.base import RuntimeDriver
from roost.runner.secrets import SecretCache, SecretEnvDriver, SecretsStep
from roost.runner.state import StateStore
from roost.runner.steps import Step


@dataclass
class UserParts:
    client: PlaneClient
    runner_id: str
    secrets: SecretCache
    dotfiles: DotfilesStep
    automations: AutomationsStep
    logs: LogStore

    @classmethod
    def create(
        cls, client: PlaneClient, runner_id: str, state: StateStore, reporter: Reporter,
        logs: LogStore,
    ) -> "UserParts":  # fmt: skip
        async def report(
            env: Environment, part: str, phase: str, message: str, **details: object
        ) -> None:
            await reporter.part(env, "running", part, phase, message, **details)

        return cls(
            client, runner_id, SecretCache(client.environment_secrets),
            DotfilesStep(client.environment_dotfiles, logs, state),
            AutomationsStep(logs, state, logs.root.parent / "automations", report), logs,
        )  # fmt: skip

    def wrap(self, driver: RuntimeDriver) -> RuntimeDriver:
        return SecretEnvDriver(driver, self.secrets)

    def around(self, dev: DevcontainerStep) -> tuple[list[Step], list[Step]]:
        """Steps to put before the content step, and after the devcontainer step."""
        dev.after_create.append(self.dotfiles.install)
        self.automations.wait_devcontainer = dev.settled
        return [SecretsStep(self.secrets, dev.settle_users)], [self.dotfiles, self.automations]

    async def verify(self, ticket: str, env_id: str, purpose: str) -> TicketGrant:
        grant = await self.client.verify_ticket(self.runner_id, ticket, env_id, purpose)
        return TicketGrant.model_validate(grant)

    def routes(self) -> list[web.RouteDef]:
        def active(env_id: str, name: str) -> bool:
            manager = self.automations.get(env_id)
            return manager is not None and manager.active(name)

        return [
            *logs_routes.routes(self.logs, self.verify, active),
            *automation_routes.routes(self.automations, self.verify),
        ]

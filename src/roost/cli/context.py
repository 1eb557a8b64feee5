"""Lazily built client shared by the commands of one invocation."""

from roost.cli import config
from roost.cli.client import Client


def client() -> Client:
    cfg = config.load()
    return Client(cfg.url, cfg.token)

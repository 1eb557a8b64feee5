"""Printing: ``-o json`` gives one machine-readable document; the default is a short table."""

import json
from collections.abc import Sequence
from typing import Any

import click

OUTPUT_OPTION = click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)


def emit_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, sort_keys=False, default=str))


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def show(doc: Any, output: str, rows: Sequence[Sequence[object]], headers: Sequence[str]) -> None:
    if output == "json":
        emit_json(doc)
    else:
        table(rows, headers)

"""``30d`` / ``12h`` / ``90m`` / ``45s`` → seconds."""

import click

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    unit = text[-1:].lower()
    if unit not in UNITS or not text[:-1].isdigit():
        raise click.BadParameter(f"{text!r}: use a number and s, m, h or d (like 30d)")
    return int(text[:-1]) * UNITS[unit]

"""Bases and shared small documents."""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STR = 64 * 1024
"""No string a client writes is longer (fields with a meaning have tighter bounds); the whole
request body is bounded too (``server/api/limits.py``)."""
MAX_INT = 2**62
"""No integer a client writes is larger: it must fit the database's and the kernel's 64 bits
(fields with a meaning have tighter bounds of their own)."""


class Input(BaseModel):
    """A document a client writes: unknown keys are an error, and so are numbers out of any
    sane range (integers beyond :data:`MAX_INT`, infinities, NaN) and strings beyond
    :data:`MAX_STR` -- a 400 naming the field, never a 500 deep in a control loop."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=MAX_STR)

    @field_validator("*")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            raise ValueError("out of range: must be between -2**62 and 2**62")
        return value


class Output(BaseModel):
    """A document a client reads: unknown keys are ignored (newer server, older client)."""

    model_config = ConfigDict(extra="ignore")


T = TypeVar("T")


class Page(Output, Generic[T]):
    """One page of a list. Pass ``next_cursor`` back as ``cursor`` for the next page.

    ``resource_version`` is the version the list was read at: a watch started from it misses
    nothing that happened after the list.
    """

    items: list[T]
    next_cursor: str | None = None
    resource_version: int = 0


class ErrorDetail(Output):
    code: str
    message: str


class ErrorBody(Output):
    error: ErrorDetail


ConditionPhase = Literal["pending", "progressing", "ready", "failed", "unknown"]


class Condition(Output):
    """The observed state of one part of an environment (machine, content, backup, ...)."""

    phase: ConditionPhase = "pending"
    message: str = ""
    updated_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)

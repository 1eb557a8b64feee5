"""Which errors mean "the database is unreachable" (503, loops pause) and which do not (500)."""

import sqlalchemy.exc

from roost.server.services.availability import database_unavailable


def test_unreachable_database_errors_are_recognised() -> None:
    assert database_unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert database_unavailable(sqlalchemy.exc.TimeoutError("QueuePool limit reached"))
    wrapped = RuntimeError("while applying")
    wrapped.__cause__ = ConnectionResetError()
    assert database_unavailable(wrapped)


def test_other_errors_are_not_outages() -> None:
    assert not database_unavailable(FileNotFoundError("/var/lib/roost/x"))
    assert not database_unavailable(ValueError("bug"))
    integrity = sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))
    assert not database_unavailable(integrity)

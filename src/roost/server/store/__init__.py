"""Persistence: SQLAlchemy rows, sessions, migrations. Only services import this package."""

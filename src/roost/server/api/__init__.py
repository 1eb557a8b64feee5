"""HTTP handlers: thin. They parse, resolve the principal (a dependency), call one service, and
return its result. Errors become ``{"error": {"code", "message"}}`` with the error's status."""

"""Business rules. Services take the acting :class:`~roost.server.services.context.Principal`
explicitly, check what it may do, and own every database transaction."""

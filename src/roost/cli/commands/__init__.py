"""One module per noun, as in the server (``env``, ``org``, ``project``, ...)."""

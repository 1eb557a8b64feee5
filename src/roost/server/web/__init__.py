"""The dashboard: pages and sign-in, served by the plane itself.

It is a thin client of ``/api/v1``: the page (``static/``: hand-written HTML, JS and CSS, plus a
vendored xterm.js) calls the same API as the CLI, signed in by a session cookie instead of a
bearer token. This package only adds what a browser needs besides the API: the page itself with
a strict Content-Security-Policy, turning a sign-in link or an OpenID Connect answer into a
session cookie, and signing out.
"""

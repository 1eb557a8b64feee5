"""The two ways getting an image fails.

::

    PermanentError (roost.core.errors)
    └── ImageError          the reference, the registry's answer or the file is wrong: a bad
                            reference, a missing tag, access denied, a digest that does not match,
                            a media type we cannot unpack. Retrying will not help.
    TemporaryError (roost.core.errors)
    └── ImageUnavailable    the registry is down, timed out or answered 5xx/429: retry later
                            (``delay`` is a hint in seconds).

Messages name the image or registry and the way out, e.g. "registry localhost:5000 is
unreachable: connection refused; retry when it is up".
"""

from roost.core.errors import PermanentError, TemporaryError


class ImageError(PermanentError):
    """The image cannot be had as asked: fix the reference, the credentials or the source."""

    code = "image_error"


class ImageUnavailable(TemporaryError):
    """The registry cannot be reached right now; retry later."""

    code = "image_unavailable"

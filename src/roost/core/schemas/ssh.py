"""The SSH gateway's questions to the plane: may this key enter this environment?

The runner asks twice per login: when the client offers a key (``verified`` false: a key is
public, so a yes here proves nothing yet) and once the client has proven it holds the key
(``verified`` true: that is the login, audited as such). Every refusal is audited by the plane.
"""

from pydantic import Field

from roost.core.schemas.base import Input, Output


class SshAuthorize(Input):
    username: str = Field(max_length=100)
    """The SSH user name: an environment id, or the name of one of the key owner's."""
    public_key: str = Field(max_length=16384)
    """The offered key, in OpenSSH one-line form."""
    client_address: str = ""
    verified: bool = False


class SshGrant(Output):
    environment_id: str
    environment_name: str
    user_id: str
    user_name: str
    fingerprint: str
    keep_alive_sessions: bool = False
    """The environment's spec asks that an open session count as activity (see idle stop)."""

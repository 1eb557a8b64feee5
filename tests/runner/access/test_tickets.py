"""Where a runner finds a user's ticket: the Authorization header (CLI), or a WebSocket
subprotocol (browsers, which cannot set headers on a WebSocket)."""

from aiohttp.test_utils import make_mocked_request

from roost.runner.access.tickets import presented_ticket


def test_the_header_is_read_first() -> None:
    headers = {
        "Authorization": "Bearer roost_a_b",
        "Sec-WebSocket-Protocol": "roost.exec, roost.ticket.roost_c_d",
    }
    request = make_mocked_request("GET", "/exec/e", headers=headers)
    assert presented_ticket(request) == "roost_a_b"


def test_a_browser_offers_it_as_a_subprotocol() -> None:
    request = make_mocked_request("GET", "/exec/e", headers={
        "Sec-WebSocket-Protocol": "roost.exec, roost.ticket.roost_c_d-e"})  # fmt: skip
    assert presented_ticket(request) == "roost_c_d-e"


def test_nothing_presented_is_empty() -> None:
    request = make_mocked_request("GET", "/exec/e", headers={"Sec-WebSocket-Protocol": "chat"})
    assert presented_ticket(request) == ""

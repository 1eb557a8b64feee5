from roost.core import access_urls

ENV = "0123456789abcdefghjk"


def test_default_domain() -> None:
    assert access_urls.default_domain("http://127.0.0.1:8081") == "localhost"
    assert access_urls.default_domain("http://[::1]:8081") == "localhost"
    assert access_urls.default_domain("https://runner1.example.com") == "runner1.example.com"


def test_urls_round_trip() -> None:
    url = access_urls.host_url("https://r.example.com", "p.example.com", ENV, 3000)
    assert url == f"https://3000-{ENV}.p.example.com/"
    assert access_urls.parse_host(url.split("/")[2], "p.example.com") == (ENV, 3000)
    assert access_urls.path_url("http://r:8081/", ENV, 80) == f"http://r:8081/p/{ENV}/80/"
    assert access_urls.parse_host(f"3000-{ENV}.p.example.com.evil.com", "p.example.com") is None
    assert access_urls.parse_host(f"x3000-{ENV}.p.example.com", "p.example.com") is None

"""Origins and CIDRs that customers register are validated and normalised."""

from __future__ import annotations

import pytest

from authserver.security import Hasher, new_id
from authserver.validation import normalize_cidr, normalize_origin


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443/", "https://app.example.com"),
        ("http://localhost:5001", "http://localhost:5001"),
        # internationalised hosts as browsers send them in Origin: punycode (UTS #46)
        ("https://exämple.com", "https://xn--exmple-cua.com"),
        ("https://BÜCHER.example:8443", "https://xn--bcher-kva.example:8443"),
        ("https://straße.de", "https://xn--strae-oqa.de"),
    ],
)
def test_origins_are_normalised(raw: str, expected: str) -> None:
    assert normalize_origin(raw, production=False) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "app.example.com",
        "https://app.example.com/path",
        "https://*.example.com",
        "ftp://x.example",
        "https://user@app.example.com",
        "https://app.example.com?x=1",
        "https://\u0301a.example",  # not a valid internationalised domain name
    ],
)
def test_bad_origins_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_origin(raw, production=False)


def test_production_requires_https_origins() -> None:
    with pytest.raises(ValueError, match="https"):
        normalize_origin("http://app.example.com", production=True)


def test_cidrs() -> None:
    assert normalize_cidr("203.0.113.7") == "203.0.113.7/32"
    assert normalize_cidr("203.0.113.7/24") == "203.0.113.0/24"
    assert normalize_cidr("2001:db8::/32") == "2001:db8::/32"
    with pytest.raises(ValueError):
        normalize_cidr("not-an-ip")


def test_ids_are_prefixed_random_and_not_sequential() -> None:
    ids = {new_id("cf") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("cf_") and len(i) == 25 for i in ids)


def test_keyed_hash_depends_on_the_server_key() -> None:
    a, b = Hasher("k" * 40), Hasher("j" * 40)
    assert a.hash("secret") != b.hash("secret")
    assert a.matches("secret", a.hash("secret")) and not a.matches("other", a.hash("secret"))
    assert not a.matches("secret", None)

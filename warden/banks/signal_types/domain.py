"""Domains: a bank of known-bad sites (phishing pages, scam shops, malware hosts) matched against
every link in a text. An entry for `bad.example` matches `https://login.bad.example/x` (a banked
domain covers its subdomains) but not `notbad.example` or `bad.example.org`. Values are hostnames
in IDNA (punycode) form; a URL given as an entry is reduced to its host. Links written to dodge
link filters ("bad[.]example", "bad(dot)example", full-width
dots) are read as links; so are e-mail addresses (a scam's contact address at a banked domain)."""

from __future__ import annotations

import re
from typing import ClassVar

from .base import Fingerprint, SignalIndex, SignalType
from .exact import ExactIndex

# Obfuscated dots first, then anything that looks like a host, with or without a scheme.
_DOTS = re.compile(r"\s*(?:\[\.\]|\(\.\)|\[dot\]|\(dot\)|\{\.\})\s*|[．。｡]", re.IGNORECASE)
_HOST = re.compile(
    r"(?:(?:https?|ftp)://)?(?:[^\s/@:<>\"']+@)?"  # scheme and user info are not part of the host
    r"((?:[\w-]{1,63}\.)+[^\W\d_]{2,63}|(?:[\w-]{1,63}\.)+xn--[a-z0-9-]{1,59})(?::\d{1,5})?(?=[/\s?#:\"'<>),;!]|$)",
    re.IGNORECASE,
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
MAX_HOSTS_PER_TEXT = 50


def canonical_host(raw: str) -> str | None:
    """Lower-case IDNA hostname without `www.` and trailing dot, or None if it is not a hostname."""
    host = raw.strip().rstrip(".").lower()
    host = host.removeprefix("www.")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = host.split(".")
    if len(labels) < 2 or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # an IP address, not a domain
    return host


def hosts_in(text: str) -> list[str]:
    """Distinct hosts of the links in `text`, in order of appearance."""
    out: dict[str, None] = {}
    for match in _HOST.finditer(_DOTS.sub(".", text)):
        host = canonical_host(match.group(1))
        if host is not None:
            out[host] = None
            if len(out) >= MAX_HOSTS_PER_TEXT:
                break
    return list(out)


class DomainSignal(SignalType):
    name = "domain"
    description = "A site's domain; matches links to it and to its subdomains in any text."
    aliases: ClassVar[tuple[str, ...]] = ("domain", "hostname")
    exchange_name = "domain"
    media = frozenset({"text"})
    distance_unit = "exact"
    examples = ("bad-shop.example", "https://www.Bad-Shop.example/login")
    invalid_examples = ("", "not a domain", "localhost", "10.0.0.1")
    example_text = "order now at https://bad-shop.example/deal or write to sales@bad-shop.example"

    def validate(self, value: str) -> str:
        hosts = hosts_in(value.strip())
        if len(hosts) != 1 or len(value.strip().split()) != 1:
            raise ValueError(f"domain must be one hostname or URL (bad.example), got {value[:80]!r}")
        return hosts[0]

    def from_text(self, text: str) -> list[Fingerprint]:
        # Each host and its parent domains of two labels or more: one exact lookup covers subdomains.
        out: dict[str, None] = {}
        for host in hosts_in(text):
            labels = host.split(".")
            for start in range(len(labels) - 1):
                out[".".join(labels[start:])] = None
        return [Fingerprint(value) for value in out]

    def new_index(self) -> SignalIndex:
        return ExactIndex()

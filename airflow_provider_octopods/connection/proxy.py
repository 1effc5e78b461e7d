"""Which proxy requests to the API go through: the one decision both HTTP clients follow.

The connection's ``proxy`` extra wins. Without it, the standard variables decide, as curl and
requests read them: ``HTTPS_PROXY`` for an https base URL, ``HTTP_PROXY`` for an http one,
``ALL_PROXY`` for either (lower-case spellings first), and no proxy for a host ``NO_PROXY``
lists. An https base URL goes through the proxy in a CONNECT tunnel: the proxy sees the host
and port, never the key. Standard library only: Airflow reads the connection type at start-up.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import unquote, urlsplit

SCHEMES = ("http", "https")


def check_url(value: object) -> str:
    """A proxy URL from a connection extra, or ValueError (whose text never holds the URL,
    since it may carry credentials)."""
    text = str(value).strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("not an http:// or https:// URL with a host, e.g. http://proxy.example:3128")
    return text


def resolve(url: str, configured: str | None) -> str | None:
    """The proxy for requests to ``url``, or None for a direct connection."""
    if configured:
        return configured
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    # Public and stable since Python 3.0, though typeshed leaves it out.
    if urllib.request.proxy_bypass_environment(parts.netloc, proxies):  # type: ignore[attr-defined]
        return None
    return proxies.get(parts.scheme) or proxies.get("all") or None


def proxy_password(proxy_url: str | None) -> str | None:
    """The proxy's password (as sent, decoded), to be masked wherever it could be logged."""
    if not proxy_url:
        return None
    secret = urlsplit(proxy_url).password
    return unquote(secret) if secret else None


def redacted(proxy_url: str) -> str:
    """The proxy URL fit for a message: credentials replaced by ``***``."""
    parts = urlsplit(proxy_url)
    if parts.username is None and parts.password is None:
        return proxy_url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()

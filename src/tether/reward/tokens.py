"""The token of `tether reward serve`: where it comes from, when it is required, and that it never reaches a log.

OpenRLHF sends no header, so the token may travel as `?token=` in its `--reward.remote_url`: it must be URL-safe
(and hold no comma: OpenRLHF splits that option on commas)."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from pathlib import Path

from tether.console import RedactingLogFilter

TOKEN_ENV = "TETHER_REWARD_TOKEN"
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9._~-]+")  # URL-unreserved: embeds in a query string as is
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"]*")


def redact_token(text: str) -> str:
    """`text` with the value of every `token=` replaced by `***`."""
    return _TOKEN_IN_URL.sub(r"\1***", text)


class TokenError(ValueError):
    """A token that cannot be used (unsafe file, too short, characters a URL would mangle) or a missing one."""


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback interface (only this machine can connect)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_token(token: str, source: str) -> str:
    """The token, stripped, if long enough and URL-safe; else `TokenError` naming `source` (never the token)."""
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise TokenError(f"{source}: the token is {len(token)} characters; use at least {MIN_TOKEN_LENGTH}, e.g. "
                         "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if not _TOKEN_CHARS.fullmatch(token):
        raise TokenError(f"{source}: the token may hold only letters, digits and . _ ~ - (it travels in a URL)")
    return token


def read_token(token_file: str | Path | None = None, *, env: dict[str, str] | None = None) -> str | None:
    """The token from `token_file` (owner-only permissions, e.g. 0600) or the TETHER_REWARD_TOKEN variable."""
    env = os.environ if env is None else env
    if token_file is not None:
        path = Path(token_file)
        if not path.is_file():
            raise TokenError(f"{path}: no such token file")
        if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise TokenError(f"{path}: readable by others (mode {stat.S_IMODE(path.stat().st_mode):o}); "
                             f"chmod 600 {path}")
        return check_token(path.read_text(), str(path))
    if env.get(TOKEN_ENV):
        return check_token(env[TOKEN_ENV], TOKEN_ENV)
    return None


def require_token_for(host: str, token: str | None) -> None:
    """A server reachable from other machines must have a token."""
    if token is None and not is_loopback(host):
        raise TokenError(f"--host {host} is reachable from other machines: give a token (--token-file, mode 600, or "
                         f"{TOKEN_ENV}); OpenRLHF then sends it in --reward.remote_url "
                         f"http://{host}:PORT/get_reward?token=...")


class RedactToken(RedactingLogFilter):
    """Replaces the value of any `token=` in a log record (uvicorn's access log prints the query string)."""

    def __init__(self) -> None:
        super().__init__(redact_token)



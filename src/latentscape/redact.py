"""Secrets never printed: URLs shown with their credentials replaced by `***`.

A storage URL such as `postgresql+psycopg://bob:p@ss@db:5432/lr?password=x&sslmode=require`
carries a password twice over. Every message, log line, summary and lock file shows it as
`postgresql+psycopg://***@db:5432/lr?password=***&sslmode=require`: the whole userinfo (user
and password: the user name alone helps a guesser) and the value of every query parameter that
names a secret. The userinfo ends at the LAST `@` before the path, as RFC 3986 parsers read it,
so a password containing `@` is hidden whole.
"""

from __future__ import annotations

import re

#: Query parameters whose values are secrets (matched case-insensitively).
SECRET_PARAMS = ("password", "passwd", "pwd", "pass", "secret", "token", "access_token", "api_key", "apikey", "key", "sslpassword")

# scheme://userinfo@: the userinfo runs to the LAST '@' of the URL (a blank or a quote ends it), so
# a password holding '@', '/', '?' or '#' is hidden whole; an authority starting with '/' (sqlite:///FILE)
# has none. A path or query holding '@' is hidden too: more than needed, never less.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/\s'\"][^\s'\"]*)@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;](?:" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=)(?P<value>[^&;#\s'\"]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` (a URL, or a message quoting URLs) with credentials replaced by `***`."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}***@", str(text))
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}***", text)


def redact_secret_of(text: str, url: str) -> str:
    """`text` with `url` and every piece of its userinfo redacted: for error messages of database
    drivers, which may repeat the URL or parts of it (a driver that splits `bob:p@ss@host` at the
    first `@` complains about the host 'ss@host')."""
    text = str(text)
    if url:
        text = text.replace(url, redact(url))
    m = _USERINFO.match(url or "")
    if m is not None:
        pieces = sorted({m["userinfo"], *re.split(r"[@:/?#]", m["userinfo"])}, key=len, reverse=True)
        for piece in pieces:
            if len(piece) >= 3:  # a one- or two-letter piece would blank out words
                text = text.replace(piece, "***")
    return redact(text)

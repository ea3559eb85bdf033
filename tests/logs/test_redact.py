"""Secrets never reach a file or the console."""

from __future__ import annotations

import enum
import json
import logging
import string
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from khronos import logs, redact
from khronos.config import parse_config
from tests.logs.helpers import Setup, read_lines

BOT_SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
BOT_TOKEN = f"123456789:{BOT_SECRET}"


def _everywhere(tmp_path: Path, console: str) -> str:
    logs.shutdown()
    texts = [p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*.log*")]
    return console + "".join(texts)


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        (f"GET https://api.telegram.org/bot{BOT_TOKEN}/getMe", BOT_SECRET),
        (f"token={BOT_TOKEN}", BOT_SECRET),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ('{"authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ],
)
def test_patterns_are_masked(text: str, leak: str) -> None:
    """Bot tokens, Authorization headers and AWS secrets are masked by redact()."""
    masked = redact.redact(text)
    assert leak not in masked
    assert redact.MASK in masked


def test_ordinary_text_is_untouched() -> None:
    """Times, ratios and key=value pairs without secrets stay as they are."""
    text = "at 12:30:45 ratio=3:1 user=42 http://host:8080/path"
    assert redact.redact(text) == text


def test_added_secret_is_masked_and_short_ones_ignored() -> None:
    """add_secret masks the literal value; values under 4 characters are ignored."""
    redactor = redact.Redactor()
    redactor.add_secret("s3cr3t-value")
    redactor.add_secret("ab")
    assert redactor.redact("x s3cr3t-value ab") == f"x {redact.MASK} ab"


def test_bot_token_in_an_httpx_url_is_never_written(setup_logs: Setup, tmp_path: Path) -> None:
    """httpx's own request log line (at INFO) has the token masked in every output."""
    console = setup_logs(level="debug")
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json={"ok": True}))
    with httpx.Client(transport=transport) as client:
        client.get(f"https://api.telegram.org/bot{BOT_TOKEN}/getMe")
    text = _everywhere(tmp_path, console.getvalue())
    assert "api.telegram.org/bot123456789:" in text
    assert BOT_SECRET not in text


def test_secret_in_an_exception_message_is_masked(setup_logs: Setup, tmp_path: Path) -> None:
    """The message and the traceback text of a logged exception are redacted."""
    console = setup_logs(secrets=["hunter2-db-password"])
    error = ConnectionError(f"cannot reach bot{BOT_TOKEN} with hunter2-db-password")
    logs.get_logger().error("send failed", error=str(error), exc_info=error)
    text = _everywhere(tmp_path, console.getvalue())
    assert "send failed" in text
    assert "ConnectionError" in text
    assert BOT_SECRET not in text
    assert "hunter2-db-password" not in text


def test_secret_in_fields_is_masked(setup_logs: Setup, tmp_path: Path) -> None:
    """Secret-named fields are masked whole; tokens inside other fields and nested values too."""
    console = setup_logs(console="pretty")
    logs.get_logger().info(
        "call",
        token="plain-token-value",
        headers={"Authorization": "Bearer abcdefghijkl"},
        urls=[f"https://api.telegram.org/bot{BOT_TOKEN}/x"],
    )
    text = _everywhere(tmp_path, console.getvalue())
    for leak in ("plain-token-value", "abcdefghijkl", BOT_SECRET):
        assert leak not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: ApiKey supersecretvalue123", f"Authorization: {redact.MASK}"),
        ("authorization=AWS4-HMAC-SHA256 Credential=x/y, Sig=z", f"authorization={redact.MASK}"),
        ("Authorization: Token abc def\nnext line", f"Authorization: {redact.MASK}\nnext line"),
        (
            "{'Authorization': 'ApiKey s3cr3t', 'a': 1}",
            f"{{'Authorization': '{redact.MASK}', 'a': 1}}",
        ),
        ('{"authorization": "Digest u=1, r=2"}', f'{{"authorization": "{redact.MASK}"}}'),
        ('\\"authorization\\": \\"Basic abcd\\"', f'\\"authorization\\": \\"{redact.MASK}\\"'),
        ("Proxy-Authorization: Negotiate YIIabc", f"Proxy-Authorization: {redact.MASK}"),
    ],
)
def test_authorization_value_is_masked_whatever_the_scheme(text: str, expected: str) -> None:
    """Everything after `Authorization:` up to the end of line or the closing quote is masked."""
    assert redact.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"bot123456789%3A{BOT_SECRET}",
        f"url=https%3A%2F%2Fapi.telegram.org%2Fbot123456789%3A{BOT_SECRET}%2FgetMe",
        f"next=%252Fbot123456789%253A{BOT_SECRET}",
        f"token%3D123456789%3A{BOT_SECRET}&x=1",
    ],
)
def test_url_encoded_bot_tokens_are_masked(text: str) -> None:
    """A bot token whose colon is URL-encoded (%3A, or %253A twice encoded) is still caught."""
    masked = redact.redact(text)
    assert BOT_SECRET not in masked
    assert redact.MASK in masked


@pytest.mark.parametrize(
    "name",
    ["x-api-key", "X-Api-Key", "api-key", "api_key", "apiKey", "botToken", "Set-Cookie", "auth"],
)
def test_header_like_field_names_are_masked_whole(name: str) -> None:
    """Field names with -, _ or camelCase around a secret word hide the whole value."""
    assert redact.get_redactor().redact_value({name: "plain-value-1"}) == {name: redact.MASK}


@pytest.mark.parametrize("name", ["maxTokens", "token_count", "secret_name", "author"])
def test_lookalike_field_names_are_kept(name: str) -> None:
    """Names that only contain a secret word keep their value."""
    assert redact.get_redactor().redact_value({name: "kept"}) == {name: "kept"}


@dataclass
class _Client:
    url: str
    api_key: str
    retries: int


class _Endpoint(enum.Enum):
    GET_ME = f"https://api.telegram.org/bot{BOT_TOKEN}/getMe"


def test_dataclasses_enums_and_header_pairs_in_fields_are_masked(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """Values orjson would serialise natively (dataclass, enum) go through the redactor too."""
    console = setup_logs()
    logs.get_logger().info(
        "client",
        client=_Client(f"https://api.telegram.org/bot{BOT_TOKEN}/x", "key-value-42", 3),
        endpoint=_Endpoint.GET_ME,
        nested=[{"clients": (_Client("u", "key-value-43", 1),)}],
        headers=[("Authorization", "ApiKey pair-secret-44"), (b"x-api-key", b"pair-secret-45")],
    )
    text = _everywhere(tmp_path, console.getvalue())
    record = json.loads(console.getvalue())
    assert record["client"]["retries"] == 3
    for leak in (BOT_SECRET, "key-value-42", "key-value-43", "pair-secret-44", "pair-secret-45"):
        assert leak not in text


def test_python_warnings_are_logged_and_masked(setup_logs: Setup, tmp_path: Path) -> None:
    """A warnings.warn() quoting a secret goes through the log pipeline, redacted."""
    console = setup_logs(secrets=["warned-secret-8d2e"])
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("cannot use warned-secret-8d2e here", UserWarning, stacklevel=1)
    text = _everywhere(tmp_path, console.getvalue())
    assert "cannot use" in text
    assert "UserWarning" in text
    assert "warned-secret-8d2e" not in text


@pytest.mark.integration
def test_uncaught_exception_with_a_token_is_masked_everywhere(tmp_path: Path) -> None:
    """exceptions.log (and every other output) masks a token in the message and the stack."""
    script = textwrap.dedent(
        f"""
        from khronos import logs
        logs.configure(log_dir={str(tmp_path)!r}, console="json")
        def call_api():
            url = "https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
            raise ConnectionError("cannot reach " + url)
        call_api()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    (record,) = read_lines(tmp_path / "exceptions.log")
    assert "in call_api" in record["exception"]
    assert "bot123456789:" in record["exception"]
    assert "cannot reach" in record["message"]
    files = "".join(p.read_text(encoding="utf-8") for p in tmp_path.glob("*.log*"))
    assert BOT_SECRET not in files + proc.stderr


# ------------------------------------------------------------- URLs, values and prose

URL_PASSWORD = "Pa55-w0rd-in-url"
URL_TOKEN = "q7T0ken-in-query-9f"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f"GET http://admin:{URL_PASSWORD}@127.0.0.1:8080/health",
            f"GET http://admin:{redact.MASK}@127.0.0.1:8080/health",
        ),
        (
            f"http://127.0.0.1/health?token={URL_TOKEN}&verbose=1",
            f"http://127.0.0.1/health?token={redact.MASK}&verbose=1",
        ),
        (
            f"https://h/x?a=1&api_key={URL_TOKEN}#access_token={URL_TOKEN}",
            f"https://h/x?a=1&api_key={redact.MASK}#access_token={redact.MASK}",
        ),
        (
            f"https://s3/o?X-Amz-Credential={URL_TOKEN}&X-Amz-Signature={URL_TOKEN}&x=y",
            f"https://s3/o?X-Amz-Credential={redact.MASK}&X-Amz-Signature={redact.MASK}&x=y",
        ),
        (f"redis://:{URL_PASSWORD}@cache:6379/0", f"redis://:{redact.MASK}@cache:6379/0"),
    ],
)
def test_url_passwords_and_token_like_query_values_are_masked(text: str, expected: str) -> None:
    """A URL keeps its user, host, path and other parameters; the secrets in it are masked."""
    assert redact.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        (
            "backup.dbs[0].replica.secret-access-key: environment variable AWS_SECRET_ACCESS_KEY "
            "is not set (export AWS_SECRET_ACCESS_KEY=... before starting Khronos, or write "
            "${AWS_SECRET_ACCESS_KEY:-default})"
        ),
        "backup.dbs[0].replica.secret-access-key: expected a string, got a list",
        "checks.http[0].headers.authorization: expected a string",
        "the endpoint wants basic authentication, then bearer authorization",
        "http://host:8080/path?page=2&sort=name keyword=x",
    ],
)
def test_prose_after_a_key_name_is_kept(text: str) -> None:
    """Messages that name a secret key keep their words: only values are masked."""
    assert redact.redact(text) == text


def test_collect_secrets_finds_the_secrets_inside_urls() -> None:
    """The password and token-like query values of a URL in the config are secrets too."""
    config = parse_config(
        "checks: {http: [{name: bot, url: "
        f"'http://admin:{URL_PASSWORD}@127.0.0.1:8080/health?token={URL_TOKEN}&x=1'}}]}}"
    )
    found = redact.collect_secrets(config)
    assert URL_PASSWORD in found
    assert URL_TOKEN in found
    assert "admin" not in found


# ------------------------------------------------------------- property tests

_TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"
_SECRETS = st.text(alphabet=_TOKEN_ALPHABET, min_size=12, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isupper() for c in s)
)
_AWS_SECRETS = st.text(alphabet=_TOKEN_ALPHABET + "/+", min_size=20, max_size=40).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isupper() for c in s)
)
_WORDS = st.lists(
    st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=15), min_size=1, max_size=8
)
_PUNCT = st.sampled_from(["", ",", ".", ";", ")"])
_SURROUNDINGS = st.tuples(_WORDS, st.sampled_from([" ", "\n", " (", ": "]))
_PLANTED = [
    "aws_secret_access_key={s}",
    "AWS_SECRET_ACCESS_KEY = {s}",
    "secret-access-key: {s}",
    '{{"SecretAccessKey": "{s}"}}',
    "Authorization: Bearer {s}",
    '{{"authorization": "Basic {s}"}}',
    "curl -H 'Authorization: ApiKey {s}' http://x",
    "Bearer {s}",
    "https://user:{s}@host.example/path",
    "GET https://host/p?x=1&token={s}&y=2",
    "http://127.0.0.1:9/h?api_key={s}",
    "https://app/cb#access_token={s}&state=1",
    "https://s3.example/b/k?X-Amz-Signature={s}",
]
_KEY_NAMES = st.sampled_from(
    [
        "secret-access-key",
        "replica.secret-access-key",
        "aws_secret_access_key",
        "AWS_SECRET_ACCESS_KEY",
        "SecretAccessKey",
        "authorization",
        "Authorization",
        "bearer",
        "basic",
    ]
)


@given(
    template=st.sampled_from(_PLANTED),
    secret=_SECRETS,
    aws_secret=_AWS_SECRETS,
    before=_SURROUNDINGS,
    after=_SURROUNDINGS,
)
def test_planted_secrets_are_masked_wherever_they_sit(
    template: str,
    secret: str,
    aws_secret: str,
    before: tuple[list[str], str],
    after: tuple[list[str], str],
) -> None:
    """A secret in a header, a key=value, JSON, a URL's userinfo or query never survives."""
    value = aws_secret if "ecret" in template and "://" not in template else secret
    planted = template.format(s=value)
    text = f"{' '.join(before[0])}{before[1]}{planted}{after[1]}{' '.join(after[0])}"
    masked = redact.Redactor().redact(text)
    assert value not in masked
    assert redact.MASK in masked


@given(
    secret=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="*"),
        min_size=4,
        max_size=30,
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_configured_secret_is_masked_anywhere(secret: str, before: str, after: str) -> None:
    """A literal secret is masked whatever surrounds it, even glued to other text."""
    redactor = redact.Redactor([secret])
    assert secret not in redactor.redact(before + secret + after)


@given(
    key=_KEY_NAMES,
    separator=st.sampled_from([": ", "=", " = ", ": "]),
    words=_WORDS,
    punct=_PUNCT,
    lead=_WORDS,
)
def test_prose_around_key_names_survives(
    key: str, separator: str, words: list[str], punct: str, lead: list[str]
) -> None:
    """Lowercase words after a secret key's name are prose: the message is left as it is."""
    if key in {"bearer", "basic"}:
        separator = " "
    text = f"{' '.join(lead)} {key}{separator}{' '.join(words)}{punct}"
    assert redact.Redactor().redact(text) == text

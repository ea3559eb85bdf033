"""``backup.dbs[].snapshots``: the replica's URL rules restricted to S3 and folders, encryption
required, provider sugar, names; every mistake names its key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from khronos.config import parse_config
from khronos.errors import ConfigError

_KEY = "age1" + "q" * 58
_ENC = f"encrypt: {{recipients: [{_KEY}]}}"


def _parse(tmp_path: Path, dest: str):  # type: ignore[no-untyped-def]
    text = (
        f"state_dir: {tmp_path}/state\n"
        "backup:\n  dbs:\n    - path: app.db\n"
        f"      replica: {{url: 'file://{tmp_path}/replica'}}\n"
        f"      snapshots: [{dest}]\n"
    )
    return parse_config(text, source="khronos.yml", base_dir=tmp_path)


def _error(tmp_path: Path, dest: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, dest)
    return "\n".join(caught.value.lines())


def test_b2_becomes_s3_with_its_endpoint_and_region(tmp_path: Path) -> None:
    """b2:// sugar: an S3 destination at the B2 endpoint, labelled by its bucket."""
    config = _parse(
        tmp_path,
        f"{{url: 'b2://bk/snaps', region: us-west-004, encrypt: {{recipients: [{_KEY}]}}}}",
    )
    dest = config.backup.dbs[0].snapshots[0]
    assert (dest.type, dest.endpoint, dest.region) == (
        "s3",
        "https://s3.us-west-004.backblazeb2.com",
        "us-west-004",
    )
    assert dest.label == "bk"
    assert dest.force_path_style is True


@pytest.mark.parametrize(
    ("dest", "says"),
    [
        ("{url: 's3://b/p'}", "needs encrypt"),
        (f"{{url: 'gs://b/p', {_ENC}}}", "cannot be stored on gs"),
        ("{url: 's3://b/p', encrypt: {recipients: [age1nope]}}", "not an age public key"),
        (f"{{url: 's3://b/p', encrypt: {{recipients: [{_KEY}], passphrase_file: /x}}}}", "one of"),
        (f"{{url: 's3://b/p', sse-customer-key-path: /k, {_ENC}}}", "age already encrypts"),
        (f"{{url: 's3://b/p', sync-interval: 1s, {_ENC}}}", "use interval"),
        (f"{{url: 's3://b/p', interval: 0s, {_ENC}}}", "greater than 0"),
        (f"{{url: 's3://b/p', retention: {{hourly: 0, daily: 0}}, weekly: 0, {_ENC}}}", "weekly"),
        (f"{{url: 's3://b/p', retention: {{hourly: 0, daily: 0, weekly: 0}}, {_ENC}}}", "no snap"),
    ],
    ids=["no-encrypt", "gs", "bad-key", "both", "sse-c", "sync", "interval-0", "typo", "none"],
)
def test_mistakes_are_refused_with_a_hint(tmp_path: Path, dest: str, says: str) -> None:
    """Each mistake: a ConfigError at backup.dbs[0].snapshots[0] saying what is wrong."""
    text = _error(tmp_path, dest)
    assert says in text
    assert "snapshots" in text


def test_two_destinations_need_two_names(tmp_path: Path) -> None:
    """Two folders are both labelled 'file': refused until one is named."""
    one = f"{{url: 'file:///a', {_ENC}}}"
    assert "two snapshot destinations are named 'file'" in _error(tmp_path, f"{one}, {one}")

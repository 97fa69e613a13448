"""IDs, delete tokens and settings: pure code, no server."""

from __future__ import annotations

import math
import re
import secrets
from pathlib import Path

import pytest

from backend import cli, ids
from backend.settings import Settings, env_name


def test_ids_are_long_base62_and_random():
    generated = {ids.new_id() for _ in range(5000)}
    assert len(generated) == 5000
    assert all(len(i) == 10 and ids.is_valid_id(i) for i in generated)
    assert 10 * math.log2(len(ids.ALPHABET)) >= 59  # the design's 59 bits an ID
    assert set("".join(generated)) == set(ids.ALPHABET)


def test_short_ids_are_refused():
    with pytest.raises(ValueError):
        ids.new_id(8)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("abcdEFGH12", True),
        ("abc", False),
        ("abcdEFGH1!", False),
        ("../../etc", False),
        ("abcdEFGH12.jpg", False),
        ("a" * 33, False),
    ],
)
def test_id_validation(value, valid):
    assert ids.is_valid_id(value) is valid


def test_delete_tokens():
    token = ids.new_delete_token()
    assert len(token) >= 22  # >= 128 bits in URL-safe base64
    stored = ids.hash_token(token)
    assert token not in stored
    assert ids.token_matches(token, stored)
    assert not ids.token_matches(token + "x", stored)
    assert not ids.token_matches("", stored)


def test_sealed_token_needs_the_idempotency_key():
    token = ids.new_delete_token()
    sealed = ids.seal_token(token, "key-one-0123456789")
    assert token not in sealed
    assert ids.unseal_token(sealed, "key-one-0123456789") == token
    assert ids.unseal_token(sealed, "key-two-0123456789") != token


def test_settings_from_environment(tmp_path):
    env = {
        env_name("data_dir"): str(tmp_path),
        "PICDROP_PORT": "9123",
        "PICDROP_MAX_BYTES": "1000",
        "PICDROP_PUBLIC_URL": "https://img.example/",
        "PICDROP_LOG_REQUESTS": "off",
    }
    s = Settings.from_env(env)
    assert s.data_dir == tmp_path
    assert s.port == 9123 and s.max_bytes == 1000 and s.log_requests is False
    assert s.base_url == "https://img.example"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'picdrop.db'}"
    # Explicit overrides (CLI flags) beat the environment.
    assert Settings.from_env(env, port=1).port == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("PICDROP_PORT", "eighty"), ("PICDROP_LOG_REQUESTS", "maybe"), ("PICDROP_MAX_EXPIRY", "1y")],
)
def test_bad_settings_say_which_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})


def test_default_base_url():
    assert Settings(host="127.0.0.1", port=8000).base_url == "http://127.0.0.1:8000"
    assert Settings(host="::1", port=8000).base_url == "http://[::1]:8000"


def test_config_doc_is_current():
    """docs/CONFIG.md is generated from the settings; regenerate it when they change:
    `picdrop-server settings --markdown > docs/CONFIG.md`."""
    from pathlib import Path

    from backend.cli import settings_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "CONFIG.md"
    assert doc.read_text() == settings_markdown()


def _deploy_admin_tokens() -> list[str]:
    """Every PICDROP_ADMIN_TOKEN value written in deploy/ (examples an operator may copy)."""
    deploy = Path(__file__).resolve().parents[2] / "deploy"
    found = []
    for path in deploy.rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8", "replace")
            found += re.findall(r"PICDROP_ADMIN_TOKEN=(\S+)", text)
    return found


def test_deploy_ships_an_admin_token_example():
    assert _deploy_admin_tokens()  # else the refusal below tests nothing


@pytest.mark.parametrize(
    "token",
    ["short", "x" * 31, *_deploy_admin_tokens()],
    ids=lambda t: f"{len(t)} characters" if t in ("short", "x" * 31) else "deploy/ example",
)
def test_weak_admin_tokens_are_refused_at_startup(tmp_path, capsys, token):
    with pytest.raises(ValueError, match="PICDROP_ADMIN_TOKEN"):
        Settings(admin_token=token)
    code = cli.main(["serve", "--data-dir", str(tmp_path), "--port", "0", "--admin-token", token])
    assert code == 2
    assert "PICDROP_ADMIN_TOKEN" in capsys.readouterr().err


@pytest.mark.parametrize("token", ["", secrets.token_hex(16), secrets.token_urlsafe(32)])
def test_empty_or_strong_admin_tokens_are_accepted(token):
    assert Settings(admin_token=token).admin_token == token

"""deploy/compose.yaml against the Compose Specification's JSON schema (tests/e2e/vendor): what
`docker compose config` would check, without the compose plugin (Debian's docker.io lacks it)."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from tests.services import REPO

SCHEMA = json.loads((REPO / "tests" / "e2e" / "vendor" / "compose_spec.json").read_text())


def problems(compose: dict) -> list[str]:
    # The file names draft 2019-09 by an address jsonschema does not know (http, not https).
    validator = jsonschema.Draft201909Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(compose)]


@pytest.fixture
def compose() -> dict:
    # safe_load resolves the file's YAML merge keys (<<:), as docker compose does.
    return yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())


def test_the_compose_file_follows_the_compose_specification(compose):
    assert problems(compose) == []


@pytest.mark.parametrize(
    ("service_key", "value"),
    [("restart_policy", "always"), ("imagee", "picdrop"), ("ports", "8000:8000")],
)
def test_the_schema_catches_a_mistake(compose, service_key, value):
    """The check above would pass on anything if the schema checked nothing."""
    name = next(iter(compose["services"]))
    compose["services"][name] = {**compose["services"][name], service_key: value}
    assert problems(compose)

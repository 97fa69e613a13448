"""docs/DEPLOY.md and deploy/systemd followed literally where a test can: the settings blocks read
the way systemd's EnvironmentFile= reads them, the PostgreSQL, bucket and backup/restore/upgrade
commands run against real servers, and a replica of a cluster refuses a catalog of its own."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from backend.catalog import Catalog
from backend.catalog.versions import head
from backend.settings import FIELDS, Settings, env_name
from tests.services import DEPLOY, REPO

DOC = REPO / "docs" / "DEPLOY.md"
ENV_EXAMPLE = DEPLOY / "systemd" / "picdrop.env.example"
UNIT = DEPLOY / "systemd" / "picdrop@.service"
SETTING_NAMES = {env_name(f.name) for f in FIELDS}
# `picdrop-server` of this checkout (a venv's entry point may be another installation's).
SERVER = [sys.executable, "-m", "backend"]


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^ *```{language}\n(.*?)^ *```$", text, flags=re.M | re.S)


def section(title: str, level: str = "##") -> str:
    """The docs' section whose title starts with `title`, up to the next of its level."""
    text = DOC.read_text()
    start = text.index(f"\n{level} {title}")
    end = text.find(f"\n{level} ", start + 1)
    return text[start : end if end >= 0 else None]


def settings_blocks() -> list[tuple[str, str]]:
    """(where, text) of every block that is a settings file: NAME=value lines and comments."""
    blocks = [("picdrop.env.example", ENV_EXAMPLE.read_text())]
    for n, block in enumerate(fenced_blocks(DOC.read_text(), "sh")):
        lines = [line for line in block.splitlines() if line.strip()]
        if lines and all(re.match(r"#|PICDROP_\w+=", line) for line in lines):
            blocks.append((f"DEPLOY.md block {n}", block))
    return blocks


def test_settings_blocks_read_as_systemd_reads_them():
    """systemd keeps everything after the `=` (a trailing `# comment` too) and one assignment
    a line: each line must be one real setting with a value free of comments."""
    blocks = settings_blocks()
    assert len(blocks) >= 2  # the example and the scale-out block
    for where, block in blocks:
        for line in block.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            name, _, value = line.partition("=")
            assert name in SETTING_NAMES, (where, line)
            assert "#" not in value and " PICDROP_" not in value, (where, line)
        assert "PICDROP_CLUSTER=true" in block or where.endswith("block 0"), where


def test_the_unit_requires_its_settings_file_and_does_not_restart_on_refusal():
    unit = UNIT.read_text()
    assert re.findall(r"^EnvironmentFile=(.*)$", unit, flags=re.M) == ["/etc/picdrop/picdrop.env"]
    assert re.search(r"^RestartPreventExitStatus=2$", unit, flags=re.M)


@pytest.mark.parametrize(
    ("database_url", "refused"),
    [
        ("", True),
        ("sqlite:////var/lib/picdrop/picdrop.db", True),
        ("postgresql+psycopg://db/x", False),
    ],
)
def test_a_cluster_replica_refuses_a_catalog_of_its_own(database_url, refused, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICDROP_")}
    env.update(
        PICDROP_CLUSTER="true",
        PICDROP_DATABASE_URL=database_url,
        PICDROP_DATA_DIR=str(tmp_path),
    )
    if refused:
        result = subprocess.run(
            [*SERVER, "serve"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2  # the unit's RestartPreventExitStatus
        assert "PICDROP_DATABASE_URL" in result.stderr
    else:
        assert Settings.from_env(env).cluster


def run_doc_commands(block: str, replacements: dict[str, str], env: dict[str, str]) -> list[str]:
    """Runs the block's `picdrop-server` lines (systemctl lines are the operator's) in order."""
    outputs = []
    for line in block.splitlines():
        if not line.startswith("picdrop-server "):
            continue
        for old, new in replacements.items():
            line = line.replace(old, new)
        argv = [*SERVER, *shlex.split(line)[1:]]
        result = subprocess.run(
            argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        outputs.append(result.stdout)
    return outputs


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_the_backup_restore_and_rollback_commands_run(engine, tmp_path, request):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICDROP_")}
    env["PICDROP_DATA_DIR"] = str(tmp_path / "data")
    if engine == "postgresql":
        env["PICDROP_DATABASE_URL"] = request.getfixturevalue("pg_url")
    backups = tmp_path / "backups"
    backups.mkdir()
    replacements = {"/var/backups/picdrop": str(backups)}
    blocks = fenced_blocks(section("Backups, restores, upgrades"), "sh")
    assert len(blocks) == 4
    migrated = subprocess.run([*SERVER, "-q", "migrate"], env=env, cwd=REPO, timeout=120)
    assert migrated.returncode == 0
    outputs = [out for block in blocks for out in run_doc_commands(block, replacements, env)]
    assert (backups / "catalog.backup").exists()
    assert (backups / "before-upgrade.backup").exists()
    assert f"catalog schema is at revision {head()}" in outputs[-2]
    assert "catalog schema is at revision 0005" in outputs[-1]


def test_the_postgresql_commands_make_a_database_the_replicas_can_migrate(postgres):
    """The role and database of the docs, made by their commands (as the `postgres` user)."""
    (block,) = fenced_blocks(section("PostgreSQL", "###"), "sh")
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(postgres.port)}
    env["PATH"] = f"{postgres.bindir}:{env['PATH']}"
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    for line in block.splitlines():
        argv = shlex.split(line)
        assert argv[:3] == ["sudo", "-u", "postgres"], line
        subprocess.run([*as_postgres, *argv[3:]], env=env, check=True, timeout=60)
    try:
        catalog = Catalog(f"postgresql+psycopg://picdrop:secret@127.0.0.1:{postgres.port}/picdrop")
        try:
            catalog.migrate()  # as the role the docs made: it owns its database
        finally:
            catalog.close()
    finally:
        postgres.drop_database("picdrop")
        postgres._admin("DROP ROLE IF EXISTS picdrop")


def test_the_bucket_lifecycle_rule_is_accepted_and_forgets_old_versions(s3_server, s3_bucket):
    (rules,) = fenced_blocks(section("The bucket", "###"), "json")
    client = s3_server.client()
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_lifecycle_configuration(
        Bucket=s3_bucket, LifecycleConfiguration=json.loads(rules)
    )
    (rule,) = client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] > 0

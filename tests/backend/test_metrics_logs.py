"""Operators' view of a running server: the Prometheus endpoint (opt-in, on its own port) and
JSON logs. A real `picdrop-server serve` process, a client behind a trusted proxy address."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from requests_toolbelt.adapters.source import SourceAddressAdapter

from tests.backend import imagesamples as samples
from tests.services import free_port

PROXY = "127.0.0.2"  # the peer the server sees: a trusted proxy
CLIENT = "203.0.113.7"  # the client's address, as that proxy reports it


def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    values: dict[tuple[str, frozenset], float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name, frozenset(sample.labels.items())] = sample.value
    return values


def value(values, name: str, **labels: str) -> float:
    return values.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def operated(server_process):
    """A server with metrics and JSON logs, an upload limit of 2 a minute, and a session whose
    connections come from PROXY with an X-Forwarded-For of CLIENT."""
    port = free_port()
    server = server_process(
        metrics_port=port,
        log_format="json",
        trusted_proxies=PROXY,
        upload_rate="2/minute",
    )
    session = requests.Session()
    session.mount("http://", SourceAddressAdapter(PROXY))
    session.headers["X-Forwarded-For"] = CLIENT
    with session:
        yield server, port, session


def test_counters_move_after_an_upload_a_refusal_and_a_delete(operated):
    server, port, session = operated
    before = scrape(port)
    created = session.post(
        f"{server.url}/api/upload", files={"file": ("a.jpg", samples.plain_jpeg())}, timeout=30
    )
    assert created.status_code == 201
    image = created.json()
    for _ in range(2):  # the first from the store, the second from the memory cache
        assert session.get(image["url"], timeout=30).status_code == 200
    refused = session.post(
        f"{server.url}/api/upload", files={"file": ("a.txt", b"not an image")}, timeout=30
    )
    assert refused.status_code in (415, 422)
    limited = session.post(
        f"{server.url}/api/upload", files={"file": ("b.jpg", samples.plain_jpeg())}, timeout=30
    )
    assert limited.status_code == 429
    deleted = session.delete(
        f"{server.url}/api/images/{image['id']}",
        headers={"Authorization": f"Bearer {image['delete_token']}"},
        timeout=30,
    )
    assert deleted.status_code == 204
    after = scrape(port)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("picdrop_uploads_total", outcome="stored") == 1
    assert moved("picdrop_uploads_total", outcome="refused") == 2
    assert moved("picdrop_stored_bytes_total") == image["size"]
    assert moved("picdrop_refusals_total", code=refused.json()["code"]) == 1
    assert moved("picdrop_refusals_total", code="rate_limited") == 1
    assert moved("picdrop_rate_limit_refusals_total", route="/api/upload") == 1
    delete = {"route": "/api/images/{image_id}", "method": "DELETE", "status": "204"}
    assert moved("picdrop_http_requests_total", **delete) == 1
    upload_latency = "picdrop_http_request_duration_seconds_count"
    assert moved(upload_latency, route="/api/upload") == 3
    assert moved("picdrop_image_work_seconds_count") >= 1
    assert moved("picdrop_cache_hits_total") >= 1
    assert 0 < value(after, "picdrop_cache_hit_ratio") <= 1
    assert value(after, "picdrop_image_jobs_waiting") == 0
    assert ("picdrop_image_jobs_running", frozenset()) in after


def test_json_logs_parse_and_hold_no_address_or_token(operated):
    server, _port, session = operated
    image = session.post(
        f"{server.url}/api/upload", files={"file": ("a.jpg", samples.plain_jpeg())}, timeout=30
    ).json()
    # the delete link's token in a request path, and an error, both logged
    assert session.get(image["delete_url"], timeout=30).status_code == 200
    assert session.get(f"{server.url}/AAAAAAAAAAAA.jpg", timeout=30).status_code == 404
    bearer = {"Authorization": f"Bearer {image['delete_token']}"}
    assert (
        session.delete(f"{server.url}/api/images/{image['id']}", headers=bearer).status_code == 204
    )
    lines = server.log().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= records[0].keys()
    messages = [r["message"] for r in records]
    assert any("listening on http://" in m for m in messages)
    assert any(m.startswith("GET /delete/") for m in messages)  # the access log is there
    text = "\n".join(lines)
    assert PROXY not in text and CLIENT not in text
    assert image["delete_token"] not in text


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404

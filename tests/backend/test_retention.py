"""Optional size-based retention (like 0x0.st): bigger files expire sooner; off by default."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from backend.retention import lifetime, parse_retention
from backend.settings import Settings
from tests.backend import imagesamples as samples

DAY = 86400


def test_formula_and_parsing():
    bounds = parse_retention("30d:365d")
    assert bounds == (30 * DAY, 365 * DAY)
    assert lifetime(0, 1000, bounds) == 365 * DAY
    assert lifetime(1000, 1000, bounds) == 30 * DAY
    sizes = [lifetime(n, 1000, bounds) for n in range(0, 1001, 50)]
    assert sizes == sorted(sizes, reverse=True)  # bigger never lives longer
    assert lifetime(500, 1000, bounds) == pytest.approx((30 + 335 / 8) * DAY)
    assert parse_retention("") is None and parse_retention("off") is None
    assert parse_retention("12h:2") == (12 * 3600, 2 * DAY)
    for bad in ("30d", "x:y", "0:10", "10d:5d"):
        with pytest.raises(ValueError, match="PICDROP_RETENTION"):
            Settings(retention=bad)


def expires_in(response) -> float:
    value = response.json()["expires_at"]
    return datetime.fromisoformat(value).timestamp() - time.time()


def test_off_by_default(client):
    assert client.upload(samples.unique_jpeg()).json()["expires_at"] is None


@pytest.mark.parametrize("settings_overrides", [{"retention": "1d:30d", "max_bytes": 400 * 1024}])
def test_bigger_files_expire_sooner(client):
    small = client.upload(samples.unique_jpeg(size=(32, 24)))
    big = client.upload(samples.encode(samples.photo((600, 450)), quality=95))
    assert small.status_code == big.status_code == 201
    size = big.json()["size"]
    assert 100 * 1024 < size < 400 * 1024
    expected = lifetime(size, 400 * 1024, (DAY, 30 * DAY))
    assert expires_in(big) == pytest.approx(expected, abs=60)
    assert 29 * DAY < expires_in(small) <= 30 * DAY
    assert expires_in(big) < expires_in(small)
    # A shorter expiry asked for by the uploader wins.
    r = client.session.post(
        f"{client.url}/api/upload",
        files={"file": ("a.jpg", samples.unique_jpeg())},
        data={"expires": "1h"},
    )
    assert expires_in(r) == pytest.approx(3600, abs=60)

"""GET /qr/{id}.svg: a QR code of the image's page link, for live images only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import segno

from tests.backend import imagesamples as samples


def test_the_qr_code_encodes_the_page_link(client):
    uploaded = client.upload(samples.plain_jpeg(), filename="a.jpg").json()
    answer = client.get(f"/qr/{uploaded['id']}.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["x-content-type-options"] == "nosniff"
    svg = ET.fromstring(answer.content)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "width" not in svg.attrib  # the page sizes it
    # The modules are those of the page link's code (nothing else, e.g. the delete link).
    expected = segno.make(uploaded["page_url"], error="m")
    drawn = [path.get("d") for path in svg.iter("{http://www.w3.org/2000/svg}path")]
    modules = [d for d in drawn if d in expected.svg_inline()]
    assert modules and modules[0].count("h") > 100  # the modules, not the white background
    assert uploaded["page_url"] in svg.find("{http://www.w3.org/2000/svg}title").text


def test_no_qr_code_for_a_missing_or_deleted_image(client):
    uploaded = client.upload(samples.plain_jpeg(), filename="a.jpg").json()
    assert client.get("/qr/AAAAAAAAAA.svg").status_code == 404
    client.session.delete(
        f"{client.url}/api/images/{uploaded['id']}",
        headers={"Authorization": f"Bearer {uploaded['delete_token']}"},
        timeout=30,
    )
    gone = client.get(f"/qr/{uploaded['id']}.svg")
    assert gone.status_code == 404
    assert gone.json()["code"] == "not_found"

"""`picdrop upload` with no server configured: the running app uploads the files through its own
queue (the window and tray show them) and its built-in server, and reports back as it goes."""

from __future__ import annotations

import base64

from desktop.commands.inputs import Input
from desktop.commands.report import Reporter
from desktop.instance_client import InstanceClient, InstanceGone


def upload_via_app(
    client: InstanceClient,
    inputs: list[Input],
    reporter: Reporter,
    *,
    expires: str | None,
    copy: bool,
    fmt: str,
) -> str:
    """Returns where the app uploaded the files ("" when it could not say)."""
    items = []
    for item in inputs:
        if item.path is not None:
            items.append({"path": str(item.path)})
        else:
            assert item.data is not None
            items.append({"name": item.name, "data": base64.b64encode(item.data).decode()})
    try:
        client.send(
            {"cmd": "upload", "items": items, "expires": expires, "copy": copy, "format": fmt}
        )
        while True:
            event = client.receive(timeout_ms=None)
            kind = event.get("event")
            index = int(event.get("index", -1))
            if kind == "progress":
                reporter.sending(index, int(event["sent"]), int(event["total"]))
            elif kind == "status":
                reporter.waiting(index, str(event.get("text", "")))
            elif kind == "done":
                reporter.done(index, dict(event["result"]))
            elif kind == "failed":
                reporter.failed(index, str(event.get("error")), bool(event.get("unreachable")))
            elif kind == "end":
                return str(event.get("server") or "")
            elif event.get("ok") is False:
                raise InstanceGone(str(event.get("error")))
    except InstanceGone as exc:
        for index in range(len(inputs)):
            reporter.failed(index, f"the picdrop app stopped: {exc}", unreachable=True)
        return ""

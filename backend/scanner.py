"""The external scanner hook (like pict-rs's external validation).

With `PICDROP_SCANNER_URL` set, every new upload is POSTed there after it was validated and
stripped, and before anything is stored: the body is exactly the bytes that would be published,
with `Content-Type` the detected type and `X-Picdrop-Sha256` / `X-Picdrop-Dhash` headers. A 2xx
answer lets the upload through; any other answer refuses it (422 `rejected_by_scanner`); no answer
within `PICDROP_SCANNER_TIMEOUT` refuses it too (503 `scanner_unavailable`, try again later), so a
scanner outage never lets unscanned content through.

A refusal may carry a short reason for the uploader: a JSON body `{"reason": "..."}` (or
`"error"`/`"message"`) or a short plain-text body. Only a few printable characters of it are shown.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from backend.errors import ScannerRejected, ScannerUnavailable
from backend.images import Processed

log = logging.getLogger(__name__)

MAX_REASON = 200


class Scanner:
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        # Never through a proxy from the environment: the scanner is the operator's own service.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __call__(self, processed: Processed) -> None:
        headers = {
            "Content-Type": processed.info.mime,
            "X-Picdrop-Sha256": processed.sha256,
            "User-Agent": "picdrop-scanner-hook/1",
        }
        if processed.dhash:
            headers["X-Picdrop-Dhash"] = processed.dhash
        request = urllib.request.Request(self.url, data=processed.data, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(64 * 1024)
                return
        except urllib.error.HTTPError as answer:
            reason = _reason(answer.read(4096), answer.headers.get("content-type", ""))
            answer.close()
            log.info("scanner refused an upload (HTTP %d)", answer.code)
            message = "This image was refused by the server's content check."
            if reason:
                message += f" The check said: {reason}"
                if not message.endswith("."):
                    message += "."
            raise ScannerRejected(message) from None
        except (OSError, ValueError) as exc:  # refused, unreachable, timed out, bad URL
            log.error("scanner unreachable: %s", type(exc).__name__)
            raise ScannerUnavailable(
                "The server cannot check new images right now, so it accepts none; "
                "try again in a minute.",
                headers={"Retry-After": "60"},
            ) from None


def _reason(body: bytes, content_type: str) -> str:
    text = ""
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("reason", "error", "message"):
                if isinstance(data.get(key), str):
                    text = data[key]
                    break
    elif content_type.startswith("text/plain"):
        text = body.decode("utf-8", "replace")
    text = " ".join("".join(c for c in text if c.isprintable()).split())
    return text[:MAX_REASON]

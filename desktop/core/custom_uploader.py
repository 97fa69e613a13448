"""A ShareX custom uploader as a destination: the same seam as PicdropClient (upload with progress
and cancel, close), sending the request its `.sxcu` describes and reading the links out of the
answer as ShareX does (CustomImageUploader, CustomUploaderItem.ParseResponse)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode, urlsplit

import requests

from desktop.core.api import (
    DEFAULT_TIMEOUT,
    USER_AGENT,
    ApiError,
    BadAnswer,
    CancelToken,
    GuardedSession,
    MultipartBody,
    PicdropError,
    ProgressCallback,
    StreamedBody,
    UploadResult,
    exchange,
    parse_retry_after,
    status_sentence,
)
from desktop.core.printable import printable
from desktop.core.sxcu import Ask, Context, CustomUploader, Response, SyntaxFailure, render


class CustomUploaderClient:
    def __init__(
        self,
        uploader: CustomUploader,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        ask: Ask | None = None,
    ) -> None:
        self.uploader = uploader
        self.session = session or GuardedSession()
        self.session.headers["User-Agent"] = USER_AGENT
        self.timeout = timeout
        self.ask = ask or Ask()
        self.label = urlsplit(uploader.request_url).hostname or uploader.name

    def close(self) -> None:
        self.session.close()

    def request_url(self, filename: str) -> str:
        """GetRequestURL: the URL (file name encoded), then the Parameters as a query."""
        uploader = self.uploader
        url = self._render(uploader.request_url, filename, url_encode=True)
        if "://" not in url:
            url = "https://" + url  # URLHelpers.FixPrefix
        parameters = {k: self._render(v, filename) for k, v in uploader.parameters.items()}
        if parameters:
            url += ("&" if "?" in url else "?") + urlencode(parameters)
        return url

    def upload(
        self,
        data: bytes,
        filename: str,
        mime: str,
        *,
        idempotency_key: str = "",
        expires: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> UploadResult:
        """Send the file as the uploader says; the links as its URL, ThumbnailURL and
        DeletionURL say. A host has no idempotency keys nor lifetimes: those are not sent."""
        uploader = self.uploader
        cancel = cancel or CancelToken()
        try:
            url = self.request_url(filename)
            headers = {k: self._render(v, filename) for k, v in uploader.headers.items()}
            if uploader.body == "MultipartFormData":
                fields = {k: self._render(v, filename) for k, v in uploader.arguments.items()}
                body: StreamedBody = MultipartBody(
                    fields, filename, data, mime, cancel, progress, uploader.file_form_name
                )
                headers["Content-Type"] = body.content_type
            else:  # Binary: the file is the body
                body = StreamedBody(data, cancel, progress)
                headers["Content-Type"] = mime
        except SyntaxFailure as exc:
            raise BadAnswer(self.label, f"the uploader's request cannot be made: {exc}") from exc
        if progress is not None:
            progress(0, len(data))
        answer = exchange(
            self.session,
            uploader.request_method,
            url,
            self.label,
            data=body,
            headers=headers,
            timeout=self.timeout,
        )
        if answer.body is None:
            raise BadAnswer(self.label, "the answer is too large")
        response = Response(
            text=answer.body.decode("utf-8", "replace"), url=answer.url, headers=answer.headers
        )
        if answer.status >= 400:
            message = self._answer_text(uploader.error_message, filename, response, quiet=True)
            raise ApiError(
                answer.status,
                printable(message) or status_sentence(answer),
                retry_after=parse_retry_after(answer.headers),
            )
        link = (
            self._answer_text(uploader.url, filename, response)
            if uploader.url
            else response.text.strip()
        )
        if urlsplit(link).scheme not in ("http", "https"):
            raise BadAnswer(self.label, f"the answer gave no link (got {printable(link)[:80]!r})")
        thumbnail = self._answer_text(uploader.thumbnail_url, filename, response)
        deletion = self._answer_text(uploader.deletion_url, filename, response)
        return UploadResult(
            id="",
            url=link,
            page_url=link,
            thumbnail_url=thumbnail or link,
            delete_url=deletion,
            delete_token="",
            width=0,
            height=0,
            size=len(data),
            mime=mime,
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def delete(self, image_id: str, delete_token: str) -> None:
        raise PicdropError(f"{self.uploader.name} has no delete that picdrop can call.")

    def _render(self, template: str, filename: str, *, url_encode: bool = False) -> str:
        return render(template, Context(file_name=filename, url_encode=url_encode, ask=self.ask))

    def _answer_text(
        self, template: str, filename: str, response: Response, *, quiet: bool = False
    ) -> str:
        context = Context(file_name=filename, response=response, url_encode=True, ask=self.ask)
        try:
            return render(template, context)
        except SyntaxFailure as exc:
            if quiet:
                return ""
            raise BadAnswer(self.label, f"cannot read the answer: {exc}") from exc

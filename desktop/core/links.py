"""Turning an upload's result into the text that goes on the clipboard."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PLACEHOLDERS = ("url", "page_url", "thumbnail_url", "delete_url", "width", "height", "name")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
# The alt text of Markdown and HTML links: the local file name would tell every reader of the
# link something about the uploader's machine ("{name}" in a custom template, if wanted).
NEUTRAL_ALT = "image"


class LinkFormat(StrEnum):
    URL = "url"
    PAGE_URL = "page_url"
    MARKDOWN = "markdown"
    HTML = "html"
    BBCODE = "bbcode"
    TEMPLATE = "template"

    @property
    def label(self) -> str:
        return {
            LinkFormat.URL: "Direct link",
            LinkFormat.PAGE_URL: "Viewer page",
            LinkFormat.MARKDOWN: "Markdown",
            LinkFormat.HTML: "HTML",
            LinkFormat.BBCODE: "BBCode",
            LinkFormat.TEMPLATE: "Custom template",
        }[self]

    @classmethod
    def parse(cls, value: str, default: LinkFormat | None = None) -> LinkFormat:
        try:
            return cls(value)
        except ValueError:
            if default is None:
                raise
            return default

    @property
    def template(self) -> str:
        """What the format writes, as a template (shown, greyed, in Settings)."""
        return {
            LinkFormat.URL: "{url}",
            LinkFormat.PAGE_URL: "{page_url}",
            LinkFormat.MARKDOWN: f"![{NEUTRAL_ALT}]({{url}})",
            LinkFormat.HTML: (
                f'<a href="{{page_url}}"><img src="{{url}}" alt="{NEUTRAL_ALT}" '
                'width="{width}" height="{height}"></a>'
            ),
            LinkFormat.BBCODE: "[url={page_url}][img]{url}[/img][/url]",
            LinkFormat.TEMPLATE: "{url}",
        }[self]


@dataclass(frozen=True)
class LinkInfo:
    """What a link is made of; a subset of the upload result plus the file's name."""

    url: str
    page_url: str
    thumbnail_url: str
    delete_url: str
    width: int
    height: int
    name: str = "image"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], name: str = "image") -> LinkInfo:
        return cls(
            url=data["url"],
            page_url=data.get("page_url") or data["url"],
            thumbnail_url=data.get("thumbnail_url") or data["url"],
            delete_url=data.get("delete_url") or "",
            width=int(data.get("width") or 0),
            height=int(data.get("height") or 0),
            name=name,
        )


def unknown_placeholders(template: str) -> list[str]:
    """Names in `{...}` that a template would leave unexpanded (shown in the settings dialog)."""
    return [m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS]


def render_template(template: str, info: LinkInfo) -> str:
    values = {name: str(getattr(info, name)) for name in PLACEHOLDERS}
    # Only known names are replaced: a template with stray braces (CSS, JSON) stays intact,
    # which str.format would choke on.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def format_link(info: LinkInfo, fmt: LinkFormat, template: str = "") -> str:
    alt = NEUTRAL_ALT
    match fmt:
        case LinkFormat.URL:
            return info.url
        case LinkFormat.PAGE_URL:
            return info.page_url
        case LinkFormat.MARKDOWN:
            return f"![{alt}]({info.url})"
        case LinkFormat.HTML:
            size = f' width="{info.width}" height="{info.height}"' if info.width else ""
            return (
                f'<a href="{html.escape(info.page_url)}"><img src="{html.escape(info.url)}" '
                f'alt="{html.escape(alt)}"{size}></a>'
            )
        case LinkFormat.BBCODE:
            return f"[url={info.page_url}][img]{info.url}[/img][/url]"
        case LinkFormat.TEMPLATE:
            return render_template(template or "{url}", info)
    raise ValueError(fmt)


def format_links(infos: Iterable[LinkInfo], fmt: LinkFormat, template: str = "") -> str:
    """A batch gives one link per line, in the order the files were added."""
    return "\n".join(format_link(info, fmt, template) for info in infos)

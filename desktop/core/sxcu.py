"""ShareX custom uploaders (`.sxcu` files): the format and its syntax, as current ShareX reads them.

Rules followed (ShareX.UploadersLib/CustomUploader): CustomUploaderItem (fields, defaults, the
backward-compatibility check and the migration of the old `$...$` syntax), ShareXSyntaxParser
(`{function:param|param}`, nesting, `\\` escapes) and the Functions folder (one function each).
Functions that open a dialog in ShareX (prompt, inputbox, select, outputbox) ask through the
`Ask` hooks, which default to their default values: uploads run without a window too.
"""

from __future__ import annotations

import base64
import json
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

BODIES = ("None", "MultipartFormData", "FormURLEncoded", "JSON", "XML", "Binary")
METHODS = ("POST", "GET", "PUT", "PATCH", "DELETE")
# Bodies that carry a file (CustomImageUploader/CustomFileUploader refuse the others).
FILE_BODIES = ("MultipartFormData", "Binary")
FILE_DESTINATIONS = ("ImageUploader", "FileUploader")
OLDEST_SUPPORTED = (12, 3, 1)  # this version and older: "Unsupported custom uploader"
OLD_SYNTAX_UNTIL = (13, 7, 1)  # this version and older used `$json:...$`


class SxcuError(ValueError):
    """The file is not a custom uploader picdrop can use; the message says why."""


class SyntaxFailure(ValueError):
    """A template could not be rendered (unknown function, too few parameters, bad JSON...)."""


@dataclass(frozen=True)
class CustomUploader:
    name: str
    request_url: str
    version: str = ""
    destination_types: tuple[str, ...] = ()
    request_method: str = "POST"
    parameters: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "None"
    arguments: dict[str, str] = field(default_factory=dict)
    file_form_name: str = ""
    data: str = ""
    url: str = ""
    thumbnail_url: str = ""
    deletion_url: str = ""
    error_message: str = ""

    def to_json(self) -> dict[str, Any]:
        """As ShareX writes it (only what is set)."""
        out: dict[str, Any] = {
            "Version": self.version,
            "Name": self.name,
            "DestinationType": ", ".join(self.destination_types) or "None",
            "RequestMethod": self.request_method,
            "RequestURL": self.request_url,
            "Parameters": self.parameters,
            "Headers": self.headers,
            "Body": self.body,
            "Arguments": self.arguments,
            "FileFormName": self.file_form_name,
            "Data": self.data,
            "URL": self.url,
            "ThumbnailURL": self.thumbnail_url,
            "DeletionURL": self.deletion_url,
            "ErrorMessage": self.error_message,
        }
        return {k: v for k, v in out.items() if v}


# -- reading a file ---------------------------------------------------------------------------
def parse_sxcu(text: str | bytes, *, version_now: str = "17.0.0") -> CustomUploader:
    """A custom uploader from the text of a `.sxcu` file; SxcuError says what is wrong."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SxcuError(f"This is not a ShareX custom uploader: it is not JSON ({exc}).") from exc
    if not isinstance(raw, dict):
        raise SxcuError("This is not a ShareX custom uploader: it is not a JSON object.")
    # Newtonsoft.Json matches property names case-insensitively.
    fields = {str(k).lower(): v for k, v in raw.items()}

    def text_of(name: str) -> str:
        value = fields.get(name.lower(), "")
        if value is None:
            return ""
        if not isinstance(value, str):
            raise SxcuError(f"{name} must be text.")
        return value

    def table_of(name: str) -> dict[str, str]:
        value = fields.get(name.lower()) or {}
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise SxcuError(f"{name} must be an object of texts.")
        return {str(k): v for k, v in value.items()}

    def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
        value = text_of(name) or default
        for option in allowed:  # enums are read case-insensitively
            if option.lower() == value.lower():
                return option
        raise SxcuError(f"{name} {value!r} is not one of {', '.join(allowed)}.")

    version = text_of("Version")
    request_url = text_of("RequestURL")
    uploader = CustomUploader(
        name=text_of("Name") or (urlsplit(request_url).hostname or "Name"),
        request_url=request_url,
        version=version,
        destination_types=_destination_types(fields.get("destinationtype")),
        request_method=choice("RequestMethod", METHODS, "POST"),
        parameters=table_of("Parameters"),
        headers=table_of("Headers"),
        body=choice("Body", BODIES, "None"),
        arguments=table_of("Arguments"),
        file_form_name=text_of("FileFormName"),
        data=text_of("Data"),
        url=text_of("URL"),
        thumbnail_url=text_of("ThumbnailURL"),
        deletion_url=text_of("DeletionURL"),
        error_message=text_of("ErrorMessage"),
    )
    uploader = _check_backward_compatibility(uploader, version_now)
    _check_usable(uploader)
    return uploader


def _destination_types(value: object) -> tuple[str, ...]:
    # A [Flags] enum: "ImageUploader, TextUploader, FileUploader".
    if value is None:
        return ()
    if not isinstance(value, str):
        raise SxcuError("DestinationType must be text.")
    return tuple(p.strip() for p in value.split(",") if p.strip() and p.strip() != "None")


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d*", part.strip())
        parts.append(int(digits.group()) if digits and digits.group() else 0)
    return tuple(parts)


def _compare(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    return (a > b) - (a < b)


def _check_backward_compatibility(uploader: CustomUploader, version_now: str) -> CustomUploader:
    """CustomUploaderItem.CheckBackwardCompatibility."""
    version = version_tuple(uploader.version) if uploader.version else ()
    if not version or _compare(version, OLDEST_SUPPORTED) <= 0:
        raise SxcuError(
            f"Unsupported custom uploader: {uploader.name} (made for ShareX "
            f"{uploader.version or 'of an unknown version'}; 12.3.1 and older are not read)."
        )
    uploader = _move_query_to_parameters(uploader)
    if _compare(version, OLD_SYNTAX_UNTIL) > 0:
        return uploader
    data = re.sub(r"\$input\$", "{input}", uploader.data, flags=re.I)
    data = re.sub(r"\$filename\$", "{filename}", data, flags=re.I)
    return replace(
        uploader,
        request_url=migrate_old_syntax(uploader.request_url),
        parameters={k: migrate_old_syntax(v) for k, v in uploader.parameters.items()},
        headers={k: migrate_old_syntax(v) for k, v in uploader.headers.items()},
        arguments={k: migrate_old_syntax(v) for k, v in uploader.arguments.items()},
        data=data,
        url=migrate_old_syntax(uploader.url),
        thumbnail_url=migrate_old_syntax(uploader.thumbnail_url),
        deletion_url=migrate_old_syntax(uploader.deletion_url),
        error_message=migrate_old_syntax(uploader.error_message),
        version=version_now,
    )


def migrate_old_syntax(text: str) -> str:
    """CustomUploaderItem.MigrateOldSyntax: `$` alternately opens and closes a function, braces
    become escaped, and a backslash drops itself and the character after it (as ShareX does)."""
    out: list[str] = []
    opening = True
    i = 0
    while i < len(text):
        c = text[i]
        if c == "$":
            out.append("{" if opening else "}")
            opening = not opening
        elif c == "\\":
            i += 1
        else:
            if c in "{}":
                out.append("\\")
            out.append(c)
        i += 1
    return "".join(out)


def _move_query_to_parameters(uploader: CustomUploader) -> CustomUploader:
    """CustomUploaderItem.CheckRequestURL: a query in RequestURL moves to Parameters (names
    already there win)."""
    parts = urlsplit(uploader.request_url)
    if not parts.query:
        return uploader
    parameters = dict(uploader.parameters)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        parameters.setdefault(key, value)
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", parts.fragment))
    return replace(uploader, request_url=url, parameters=parameters)


def _check_usable(uploader: CustomUploader) -> None:
    if not uploader.request_url:
        raise SxcuError("RequestURL must be configured.")
    kinds = set(uploader.destination_types)
    if kinds and not kinds & set(FILE_DESTINATIONS):
        raise SxcuError(
            f"{uploader.name} is a {', '.join(uploader.destination_types)}; picdrop uploads "
            "images and files, so it can use image and file uploaders only."
        )
    if uploader.body not in FILE_BODIES:
        raise SxcuError(
            f"Unsupported request format: {uploader.body} (an image or file is sent as "
            "MultipartFormData or Binary)."
        )
    if uploader.body == "MultipartFormData" and not uploader.file_form_name:
        raise SxcuError("FileFormName must be configured.")


# -- the syntax -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    text: str = ""
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # looked up case-insensitively


@dataclass
class Ask:
    """How the interactive functions get their answer (default: without asking)."""

    text: Callable[[str, str], str] = lambda _title, default: default  # prompt, inputbox
    choose: Callable[[list[str]], str] = lambda values: values[0]  # select
    show: Callable[[str, str], None] = lambda _title, _text: None  # outputbox


@dataclass
class Context:
    file_name: str = ""
    input: str = ""
    response: Response | None = None
    url_encode: bool = False  # only the file name and input are encoded
    ask: Ask = field(default_factory=Ask)
    rng: random.Random = field(default_factory=random.Random)


def render(template: str, context: Context) -> str:
    """ShareXSyntaxParser.Parse."""
    if not template:
        return ""
    return _parse(template, False, 0, context)[0]


def _parse(text: str, is_function: bool, start: int, context: Context) -> tuple[str, int]:
    result: list[str] = []
    parameters: list[str] = []
    escape = False
    i = start
    while i < len(text):
        c = text[i]
        if not escape:
            if c == "{":
                parsed, i = _parse(text, True, i + 1, context)
                result.append(parsed)
                i += 1
                continue
            if c == "}" or (not is_function and c == "|"):
                break
            if c == "\\":
                escape = True
                i += 1
                continue
            if is_function and c in ":|":
                parsed, i = _parse(text, False, i + 1, context)
                parameters.append(parsed)
                continue
        escape = False
        result.append(c)
        i += 1
    if is_function:
        return _call("".join(result), parameters, context) or "", i
    return "".join(result), i


def _call(name: str, parameters: list[str], context: Context) -> str | None:
    if not name:
        raise SyntaxFailure("Function name cannot be empty.")
    function = FUNCTIONS.get(name.lower())
    if function is None:
        raise SyntaxFailure(f"Invalid function name: {name}")
    minimum, run = function
    if len(parameters) < minimum:
        raise SyntaxFailure(f'Minimum parameter count for function "{name}" is {minimum}.')
    return run(context, parameters)


def _response(context: Context) -> Response:
    return context.response or Response()


def _encoded(context: Context, value: str) -> str:
    return quote(value, safe="") if context.url_encode else value


def _header(context: Context, p: list[str]) -> str | None:
    wanted = p[0].lower()
    for name, value in _response(context).headers.items():
        if name.lower() == wanted:
            return value
    return None


def _json(context: Context, p: list[str]) -> str | None:
    source, path = (p[0], p[1]) if len(p) > 1 else (_response(context).text, p[0])
    if not source or not path:
        return None
    try:
        document = json.loads(source)
    except (ValueError, RecursionError) as exc:
        raise SyntaxFailure("The answer is not JSON.") from exc
    value = json_path(document, path)
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"  # (string)JToken of a boolean
    if isinstance(value, dict | list):
        raise SyntaxFailure(f"{path} is not a single value.")
    return str(value)


_JSON_STEP = re.compile(r"\.?([^.\[\]]+)|\[\s*(-?\d+)\s*\]|\[\s*'((?:[^'\\]|\\.)*)'\s*\]")


def json_path(document: Any, path: str) -> Any:
    """The value at a JSONPath (`$.files[0].url`, `data['link']`), or None. ShareX prefixes `$.`
    when the path does not start with it."""
    if path.startswith("$"):
        path = path[1:]
    position, value = 0, document
    while position < len(path):
        match = _JSON_STEP.match(path, position)
        if match is None:
            raise SyntaxFailure(f"Cannot read the JSON path {path!r}.")
        position = match.end()
        name, index, quoted = match.groups()
        if index is not None:
            if not isinstance(value, list) or not -len(value) <= int(index) < len(value):
                return None
            value = value[int(index)]
        else:
            key = name if name is not None else re.sub(r"\\(.)", r"\1", quoted)
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
    return value


def _xml(context: Context, p: list[str]) -> str | None:
    source, xpath = (p[0], p[1]) if len(p) > 1 else (_response(context).text, p[0])
    if not source or not xpath:
        return None
    try:
        root = ET.fromstring(source)
    except ET.ParseError as exc:
        raise SyntaxFailure("The answer is not XML.") from exc
    # An absolute path starts at the document: its first step is the root element.
    steps = xpath.strip("/").split("/", 1)
    if xpath.startswith("/"):
        if steps[0].split("[")[0] not in (root.tag, "*"):
            return None
        node = root if len(steps) == 1 else root.find(steps[1])
    else:
        node = root.find(xpath)
    return None if node is None else "".join(node.itertext())


def _regex(context: Context, p: list[str]) -> str | None:
    if len(p) > 2:
        source, pattern, group = p[0], p[1], p[2]
    else:
        source, pattern = _response(context).text, p[0]
        group = p[1] if len(p) > 1 else ""
    if not source or not pattern:
        return None
    # .NET writes a named group (?<name>...); Python spells it (?P<name>...).
    pattern = re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)
    try:
        match = re.search(pattern, source)
    except re.error as exc:
        raise SyntaxFailure(f"Bad regular expression {pattern!r}: {exc}") from exc
    if match is None:
        return None
    if not group:
        return match.group(0)
    try:
        return match.group(int(group) if group.isdigit() else group) or ""
    except IndexError:  # no such group: .NET answers an empty group
        return ""


def _ask_text(context: Context, p: list[str]) -> str:
    title = p[0] if p else "Input"
    default = p[1] if len(p) > 1 else ""
    return context.ask.text(title, default)


def _select(context: Context, p: list[str]) -> str | None:
    values = [v for v in p if v]
    return context.ask.choose(values) if values else None


def _outputbox(context: Context, p: list[str]) -> None:
    title, text = (p[0], p[1]) if len(p) > 1 else ("", p[0])
    if text:
        context.ask.show(title or "Output", text)


def _base64(_context: Context, p: list[str]) -> str | None:
    return base64.b64encode(p[0].encode()).decode() if p[0] else None


# name -> (minimum parameters, function)
FUNCTIONS: dict[str, tuple[int, Callable[[Context, list[str]], str | None]]] = {
    "response": (0, lambda c, _p: _response(c).text),
    "responseurl": (0, lambda c, _p: _response(c).url),
    "header": (1, _header),
    "json": (1, _json),
    "xml": (1, _xml),
    "regex": (1, _regex),
    "filename": (0, lambda c, _p: _encoded(c, c.file_name)),
    "input": (0, lambda c, _p: _encoded(c, c.input)),
    "random": (0, lambda c, p: c.rng.choice(p) if p else None),
    "select": (1, _select),
    "inputbox": (0, _ask_text),
    "prompt": (0, _ask_text),  # an alias of inputbox
    "outputbox": (1, _outputbox),
    "base64": (1, _base64),
}

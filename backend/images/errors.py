"""Why an image was refused: a status for the HTTP layer, a machine code and a sentence."""

from __future__ import annotations


class ImageRejected(Exception):
    status = 422
    code = "invalid_image"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyImage(ImageRejected):
    status = 400
    code = "empty_file"


class UnsupportedType(ImageRejected):
    status = 415
    code = "unsupported_type"


class TooManyPixels(ImageRejected):
    code = "too_many_pixels"


class TooManyFrames(ImageRejected):
    code = "too_many_frames"


class TooComplex(ImageRejected):
    """Too many scans, chunks, blocks or sub-blocks: each costs decoder (or walker) time."""

    code = "too_complex"


class BrokenImage(ImageRejected):
    code = "broken_image"

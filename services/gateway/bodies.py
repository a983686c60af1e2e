"""Reading request bodies with a size limit, before any parsing."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from starlette.requests import Request


async def read_limited(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class BodyRefused:
    """Why a body is not read: each endpoint answers it in its own error shape."""

    status: int
    code: str
    message: str


def _size(limit: int) -> str:
    return f"{limit // 1_048_576} MiB" if limit % 1_048_576 == 0 else f"{limit // 1024} KiB"


async def read_body(request: Request, limit: int) -> bytes | BodyRefused:
    """The body, inflated when sent with `Content-Encoding: gzip`. `limit` bounds both the
    bytes on the wire and what they inflate to, so a small gzip bomb is refused as too large."""
    raw = await read_limited(request, limit)
    too_large = BodyRefused(
        413, "PAYLOAD_TOO_LARGE", f"body exceeds {limit} bytes ({_size(limit)})"
    )
    if raw is None:
        return too_large
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        return BodyRefused(
            400, "UNSUPPORTED_ENCODING", f"content-encoding {encoding!r}; send gzip or none"
        )
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        body = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        return BodyRefused(400, "MALFORMED_GZIP", f"body is not valid gzip: {exc}")
    if len(body) > limit or inflater.unconsumed_tail:
        return too_large
    if not inflater.eof:
        return BodyRefused(400, "MALFORMED_GZIP", "gzip body is truncated")
    return body

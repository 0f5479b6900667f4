"""Request bodies: size limit on the wire and after gunzip (a gzip bomb stops at the limit)."""

from __future__ import annotations

import zlib

from starlette.requests import Request

from feedback_assets.collector.errors import CollectorError, field_error

GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer


def too_large(limit: int) -> CollectorError:
    reason = f"exceeds {limit} bytes (FEEDBACK_COLLECTOR_MAX_BODY_BYTES)"
    return CollectorError(413, "request body too large", [field_error("body", reason)])


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, decoded from `Content-Encoding: gzip` when so sent; 413 past
    `limit` bytes (before or after decompression), 400 for a corrupt gzip stream, 415 for
    another encoding."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "gzip", ""):
        reason = f"must be gzip or identity, got {encoding!r}"
        raise CollectorError(
            415, "unsupported content encoding", [field_error("Content-Encoding", reason)]
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    return gunzip(body, limit) if encoding == "gzip" else body


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a bomb is refused after `limit`, never inflated."""
    inflater = zlib.decompressobj(GZIP_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise too_large(limit)
        out += inflater.flush()
    except zlib.error as exc:
        reason = f"is not a valid gzip stream ({exc})"
        raise CollectorError(400, "bad gzip body", [field_error("body", reason)]) from None
    if len(out) > limit:
        raise too_large(limit)
    if not inflater.eof:
        raise CollectorError(
            400, "bad gzip body", [field_error("body", "gzip stream is truncated")]
        )
    return out

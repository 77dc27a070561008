"""What an MCP tool call gave, as the text the model reads.

Text content is the text; structured content (when no text came with it) is compact JSON;
images, audio and resources become a short note saying what came back (a speech model on a
small context cannot use base64 data). Read by duck typing, so nothing here imports `mcp`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["describe_content", "read_result"]


def read_result(result: Any) -> tuple[bool, str]:
    """``(is_error, text)`` of a ``CallToolResult``."""
    blocks = list(getattr(result, "content", None) or [])
    text = "\n".join(part for part in map(describe_content, blocks) if part)
    structured = getattr(result, "structured_content", None)
    has_text = any(getattr(block, "type", "") == "text" for block in blocks)
    if structured is not None and not has_text:
        compact = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
        text = f"{compact}\n{text}" if text else compact
    return bool(getattr(result, "is_error", False)), text


def describe_content(block: Any) -> str:
    """One content block: a text's text, else a note such as ``[image: image/png, 1.2 kB]``."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(getattr(block, "text", ""))
    if kind in ("image", "audio"):
        return f"[{kind}: {_mime(block)}, {_size(getattr(block, 'data', ''))}]"
    if kind == "resource_link":
        label = getattr(block, "title", None) or getattr(block, "name", None) or "resource"
        return f"[resource link: {label} <{getattr(block, 'uri', '')}>]"
    if kind == "resource":
        resource = getattr(block, "resource", None)
        uri = getattr(resource, "uri", "")
        if getattr(resource, "text", None) is not None:
            size = f"{len(resource.text)} characters of text"  # type: ignore[union-attr]
        else:
            size = _size(getattr(resource, "blob", ""))
        return f"[resource: <{uri}>, {_mime(resource)}, {size}]"
    return f"[{kind or 'unknown'} content]"


def _mime(item: Any) -> str:
    return str(
        getattr(item, "mime_type", None) or getattr(item, "mimeType", None) or "unknown type"
    )


def _size(base64_data: str) -> str:
    """The decoded size of base64 data, for people: ``812 bytes``, ``1.2 kB``."""
    size = len(base64_data or "") * 3 // 4
    return f"{size} bytes" if size < 1000 else f"{size / 1000:.1f} kB"

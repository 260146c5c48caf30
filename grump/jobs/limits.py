"""What a request must keep beyond its schema: sizes set by settings, text a ledger can store.

Pure: no I/O, the same for every front door (sync or async submit).
"""

from __future__ import annotations

from collections.abc import Iterator

from grump.errors import ValidationFailed
from grump.jobs.models import (
    AnyJobRequest,
    CompleteJobRequest,
    EmbedJobRequest,
    JobKind,
    input_texts,
)
from grump.settings import Settings


def _text_field(request: AnyJobRequest, index: int) -> str:
    if isinstance(request, CompleteJobRequest):
        return f"input.messages[{index}].content"
    if isinstance(request, EmbedJobRequest):
        return f"input.texts[{index}]"
    return "input.text" if request.input.texts is None else f"input.texts[{index}]"


def _strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def refuse_unstorable_text(request: AnyJobRequest) -> None:
    """NUL and lone surrogates parse as JSON but are not text a ledger or a provider accepts."""
    for field, text in _strings(request.model_dump(mode="json"), ""):
        if "\x00" in text:
            raise ValidationFailed(field, "contains a NUL character")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationFailed(field, "is not valid Unicode (a lone surrogate)") from None


def validate_limits(settings: Settings, request: AnyJobRequest) -> None:
    """Limits that depend on settings, so pydantic's schema cannot hold them."""
    if request.kind is JobKind.PARSE and request.input.text is None and not request.input.texts:
        raise ValidationFailed("input.text", "a parse job needs 'text' or 'texts'")
    texts = input_texts(request)
    if len(texts) > settings.max_texts_per_job:
        field = "input.messages" if request.kind is JobKind.COMPLETE else "input.texts"
        raise ValidationFailed(field, f"at most {settings.max_texts_per_job} items per job")
    for index, text in enumerate(texts):
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > settings.max_text_bytes:
            reason = f"{size} bytes is over the limit of {settings.max_text_bytes}"
            raise ValidationFailed(_text_field(request, index), reason)
    refuse_unstorable_text(request)

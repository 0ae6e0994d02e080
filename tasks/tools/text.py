"""Text tools: regex extraction, splitting into parts or size-bounded chunks, and counting."""

from __future__ import annotations

import re
from typing import Self

from hopflow.tasks.tools.registry import tool
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class ExtractInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    pattern: str = Field(description="a Python regular expression")
    group: int | str = Field(default=0, description="group number or name to return; 0 is the whole match")
    ignore_case: bool = False

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from None
        return value


class ExtractOutput(BaseModel):
    matches: list[str]


@tool("text.extract")
def extract_text(params: ExtractInput) -> ExtractOutput:
    """Every match of a regex in the text (or of one of its groups), in order."""
    regex = re.compile(params.pattern, re.IGNORECASE if params.ignore_case else 0)
    group = params.group
    if isinstance(group, int) and not 0 <= group <= regex.groups:
        raise ValueError(
            f"pattern {params.pattern!r} has {regex.groups} groups; group {group} does not exist"
        )
    if isinstance(group, str) and group not in regex.groupindex:
        raise ValueError(f"pattern {params.pattern!r} has no group named {group!r}")
    # A group that did not take part in a match yields None; "" keeps the list's positions aligned.
    return ExtractOutput(matches=[m.group(group) or "" for m in regex.finditer(params.text)])


class SplitInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    separator: str | None = Field(default=None, description="split on this string")
    max_chars: int | None = Field(default=None, gt=0, description="or cut into chunks of at most this size")
    drop_empty: bool = Field(default=False, description="leave out empty parts (separator mode)")

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        if (self.separator is None) == (self.max_chars is None):
            raise ValueError("give exactly one of separator or max_chars")
        if self.separator == "":
            raise ValueError("separator must not be empty")
        return self


class SplitOutput(BaseModel):
    parts: list[str]


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Chunks of at most max_chars whose concatenation is the text, cut after whitespace when possible.

    Cutting after the last whitespace in a window keeps words whole for the LLM reading the chunks;
    a window without whitespace is cut hard.
    """
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + max_chars, len(text))
        if end < len(text):
            window = text[start:end]
            cut = max(window.rfind(ws) for ws in (" ", "\n", "\t", "\r"))
            if cut > 0:
                end = start + cut + 1
        chunks.append(text[start:end])
        start = end
    return chunks


@tool("text.split")
def split_text(params: SplitInput) -> SplitOutput:
    """Split text on a separator, or into chunks of at most max_chars characters."""
    if params.max_chars is not None:
        return SplitOutput(parts=chunk_text(params.text, params.max_chars))
    parts = params.text.split(params.separator)
    return SplitOutput(parts=[p for p in parts if p] if params.drop_empty else parts)


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str


class CountOutput(BaseModel):
    chars: int
    words: int
    lines: int


@tool("text.count")
def count_text(params: CountInput) -> CountOutput:
    """Characters, whitespace-separated words and lines in the text."""
    text = params.text
    return CountOutput(chars=len(text), words=len(text.split()), lines=len(text.splitlines()))

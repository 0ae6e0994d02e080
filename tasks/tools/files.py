"""File tools confined to HOPFLOW_UPLOADS: read and write text by a path relative to the uploads dir."""

from __future__ import annotations

from pathlib import Path

from hopflow.tasks.tools.registry import ToolContext, tool
from pydantic import BaseModel, ConfigDict, Field


def resolve_upload_path(uploads: Path, path: str) -> Path:
    """The absolute path of `path` inside `uploads`; a ValueError when it is absolute or escapes it.

    Checked after resolve() so neither `..` nor a symlink inside uploads can reach other files.
    """
    root = uploads.resolve()
    if not path or not path.strip():
        raise ValueError(f"path is empty; give a path relative to the uploads dir {root} (HOPFLOW_UPLOADS)")
    if Path(path).is_absolute():
        raise ValueError(
            f"path {path!r} is absolute; give a path relative to the uploads dir {root} (HOPFLOW_UPLOADS)"
        )
    target = (root / path).resolve()
    if target == root or not target.is_relative_to(root):
        raise ValueError(f"path {path!r} resolves outside the uploads dir {root} (HOPFLOW_UPLOADS)")
    return target


class ReadInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="path relative to the uploads dir")
    encoding: str = "utf-8"


class ReadOutput(BaseModel):
    text: str


@tool("files.read")
def read_file(params: ReadInput, ctx: ToolContext) -> ReadOutput:
    """Read a text file from the uploads dir."""
    target = resolve_upload_path(ctx.uploads, params.path)
    return ReadOutput(text=target.read_text(encoding=params.encoding))


class WriteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="path relative to the uploads dir; parent dirs are created")
    content: str
    encoding: str = "utf-8"
    overwrite: bool = True


class WriteOutput(BaseModel):
    path: str = Field(description="the written file, relative to the uploads dir")
    bytes_written: int


@tool("files.write")
def write_file(params: WriteInput, ctx: ToolContext) -> WriteOutput:
    """Write a text file inside the uploads dir."""
    target = resolve_upload_path(ctx.uploads, params.path)
    if target.exists() and not params.overwrite:
        raise FileExistsError(f"{params.path!r} already exists in the uploads dir and overwrite is false")
    target.parent.mkdir(parents=True, exist_ok=True)
    data = params.content.encode(params.encoding)
    target.write_bytes(data)
    return WriteOutput(path=target.relative_to(ctx.uploads.resolve()).as_posix(), bytes_written=len(data))

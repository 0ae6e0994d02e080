"""How `hopflow --help` names values: click-style metavars instead of typer 0.29's `<bool>`, `<str>`,
`<list[str]>` and `{name}` placeholders (typer 0.29 with click 8.5 prints those beside every option)."""

from __future__ import annotations

import re
from typing import Any

from typer import core

# typer's label -> what the help shows; anything not listed is shown upper-cased (a choice list stays).
_NAMES = {"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "path": "PATH", "datetime": "DATE"}
_LABEL = re.compile(r"^<(?P<label>.*)>$")


def _click_name(label: str) -> str:
    match = _LABEL.match(label)
    inner = match.group("label") if match else label
    listed = inner.startswith("list[") and inner.endswith("]")
    if listed:
        inner = inner[5:-1]
    if inner.endswith(" range"):
        inner = inner.removesuffix(" range")
    # A choice shows the choices themselves.
    name = inner if "|" in inner else _NAMES.get(inner, inner.upper())
    return f"{name}..." if listed else name


def install() -> None:
    """Patch typer's help rendering once (idempotent). Only the help text changes, never parsing."""
    if getattr(core, "_hopflow_metavars", False):
        return
    display_type = core._TyperParameter.display_type
    option_display = core.TyperOption.display_type_rich

    def param_type(self: Any, ctx: Any) -> str:
        return _click_name(display_type(self, ctx))

    def option_type(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None  # a flag takes no value: nothing to name
        shown = option_display(self, ctx)
        return shown.replace("...", "") + "..." if shown and self.nargs != 1 else shown

    def usage_name(self: Any) -> str:
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return f"{name}..." if self.nargs != 1 else name

    def rich_name(self: Any) -> str:
        name = (self.metavar or self.name or "").upper()
        return f"{name}..." if self.metavar is None and self.nargs != 1 else name

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None  # the argument's NAME says it; `<str>` beside it said nothing

    core._TyperParameter.display_type = param_type  # type: ignore[method-assign]
    core.TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    core.TyperArgument._usage_display_name = usage_name  # type: ignore[method-assign]
    core.TyperArgument._rich_display_name = rich_name  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]
    core._hopflow_metavars = True  # type: ignore[attr-defined]

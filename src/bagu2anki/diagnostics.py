"""One collector for every problem found in the notes, each with a `path:line` location."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import click

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    path: str
    line: int | None
    message: str
    code: str = ""

    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path

    def format(self) -> str:
        return f"{self.location()}: {self.severity}: {self.message}"

    def format_github(self, path: str | None = None) -> str:
        """A GitHub Actions annotation; `path` is the file as the repository names it."""
        level = {"error": "error", "warning": "warning", "info": "notice"}[self.severity]
        file = (path or self.path).replace("%", "%25").replace(",", "%2C").replace(":", "%3A")
        props = f"file={file}"
        if self.line:
            props += f",line={self.line}"
        msg = self.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return f"::{level} {props}::{msg}"

    def as_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "code": self.code,
        }


@dataclass
class Diagnostics:
    """Collects diagnostics during a build; strict mode decides at the end, once."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[Diagnostic] = field(default_factory=set, repr=False)

    def add(
        self,
        severity: Severity,
        path: str,
        line: int | None,
        message: str,
        code: str = "",
    ) -> None:
        self.append(Diagnostic(severity, path, line, message, code))

    def append(self, d: Diagnostic) -> None:
        """Add one diagnostic unless the same one is already there (each problem is told once)."""
        if len(self._seen) != len(self.items):
            self._seen = set(self.items)
        if d not in self._seen:
            self._seen.add(d)
            self.items.append(d)

    def error(self, path: str, line: int | None, message: str, code: str = "") -> None:
        self.add("error", path, line, message, code)

    def warning(self, path: str, line: int | None, message: str, code: str = "") -> None:
        self.add("warning", path, line, message, code)

    def info(self, path: str, line: int | None, message: str, code: str = "") -> None:
        self.add("info", path, line, message, code)

    def extend(self, other: Diagnostics) -> None:
        for d in other.items:
            self.append(d)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.sorted())

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.path, d.line or 0, d.message))

    @property
    def errors(self) -> int:
        return sum(1 for d in self.items if d.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for d in self.items if d.severity == "warning")

    def failed(self, strict: bool) -> bool:
        return self.errors > 0 or (strict and self.warnings > 0)

    def to_json(self) -> str:
        return json.dumps([d.as_dict() for d in self.sorted()], ensure_ascii=False)


def counted(n: int, word: str, plural: str | None = None) -> str:
    """`1 file`, `2 files`: a count with its noun in the right number."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def clip(text: str, n: int) -> str:
    """At most `n` characters of one line of `text`, with an ellipsis where it was cut."""
    line = " ".join(text.split())
    return line if len(line) <= n else line[: n - 1].rstrip() + "…"


class UserError(click.ClickException):
    """A problem the user can fix (bad option, unreadable lock file); shown without traceback."""

    exit_code = 1


class UsageError(click.UsageError):
    """Wrong command-line usage; exit code 2."""

"""Problems found in a map file, reported the way a person can act on them."""

from __future__ import annotations

from dataclasses import dataclass

from jornada.errors import JornadaError

__all__ = ["MapFileError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a map file.

    >>> str(Problem("shop.yaml", 12, "stages[2].touchpoints[0].emotion.score",
    ...             "must be between -2 and 2, got 5", "use -2 (very negative) .. +2 (very positive)"))
    'shop.yaml:12: stages[2].touchpoints[0].emotion.score: must be between -2 and 2, got 5 (hint: use -2 (very negative) .. +2 (very positive))'
    """

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        path = f" {self.path}:" if self.path else ""
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{where}:{path} {self.message}{hint}"

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class MapFileError(JornadaError, ValueError):
    """A map file that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))

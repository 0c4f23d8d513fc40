"""Errors the CLI turns into one clear message and exit code 2."""

from __future__ import annotations




class DataError(Exception):
    """The input cannot be used. The message says what, where, and how to fix it."""

    def __init__(self, problem: str, *, file: str | None = None, column: str | None = None,
                 rows: int | None = None, example: object = None, fix: str | None = None):
        self.problem, self.file, self.column = problem, file, column
        self.rows, self.example, self.fix = rows, example, fix
        super().__init__(self.message())

    def message(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column:
            where.append(f"column '{self.column}'")
        head = ": ".join([", ".join(where), self.problem] if where else [self.problem])
        details = []
        if self.rows is not None:
            details.append(f"{self.rows:,} row{'s' if self.rows != 1 else ''}")
        if self.example is not None:
            details.append(f"e.g. {self.example!r}")
        if details:
            head += f" ({'; '.join(details)})"
        return head + (f"\n  fix: {self.fix}" if self.fix else "")


class ConfigError(Exception):
    """Options are invalid. Holds every problem found, reported together."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))

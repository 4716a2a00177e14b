"""Errors a user can act on. The CLI prints them as one line and exits non-zero, no traceback."""

from __future__ import annotations


class PlantvisionError(Exception):
    """An expected error: bad input, a missing file, a model that fits no decoder."""

    exit_code = 2


class ConfigError(PlantvisionError):
    """A config file is wrong. The message names the file, the field and the fix."""

    def __init__(self, file: str, field: str, problem: str, fix: str = "") -> None:
        self.file, self.field, self.problem, self.fix = file, field, problem, fix
        msg = f"{file}: {field}: {problem}"
        if fix:
            msg += f" (fix: {fix})"
        super().__init__(msg)


class ModelError(PlantvisionError):
    """A model file is missing, corrupt, or has outputs no decoder understands."""


class MediaError(PlantvisionError):
    """An image or video cannot be read."""

"""Reading the project's hand-edited YAML files so that a bad edit is named, not a traceback.

`read_yaml` turns a syntax error into a Problem with its line; `entries` is a context manager
whose `where` the loader moves along the document (`suites[2].models[0]`), so that a missing field
or a value of the wrong kind is reported at that place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from checks.validation import Problem, ValidationError
from sources.literature import display_path


def read_yaml(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ValidationError(
            [
                Problem(
                    display_path(path),
                    mark.line + 1 if mark else None,
                    None,
                    f"malformed YAML ({getattr(error, 'problem', None) or error})",
                    "a well-formed YAML file",
                )
            ]
        ) from error
    if not isinstance(document, dict):
        raise ValidationError(
            [Problem(display_path(path), None, None, type(document).__name__, "a YAML mapping")]
        )
    return document


@dataclass
class Cursor:
    where: str = ""


@contextmanager
def entries(path: Path) -> Iterator[Cursor]:
    cursor = Cursor()
    try:
        yield cursor
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        found = (
            f"no field {error}"
            if isinstance(error, KeyError)
            else f"{type(error).__name__}: {error}"
        )
        raise ValidationError(
            [
                Problem(
                    display_path(path),
                    None,
                    cursor.where or None,
                    found,
                    "the fields documented at the top of the file",
                )
            ]
        ) from error

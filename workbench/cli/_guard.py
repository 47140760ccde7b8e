"""`workbench guard`: scan texts with the guardrails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli._output import fail
from workbench.errors import ConfigError, WorkbenchError
from workbench.guardrails import CHANNELS, Guard, GuardConfig

__all__ = ["guard_app"]

guard_app = typer.Typer(help="Scan texts with the guardrails.", no_args_is_help=True)


def _read(file: Path) -> list[str]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from exc
    texts: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{file}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ConfigError(f'{file}:{number}: expected an object with a string "text"')
        texts.append(row["text"])
    return texts


@guard_app.command("scan")
def scan(
    file: Annotated[Path, typer.Argument(help='JSONL file, one {"text": ...} object a line.')],
    channel: Annotated[
        str, typer.Option(help="Channel: user_input, tool_output, tool_argument, final_answer.")
    ] = "user_input",
) -> None:
    """Scan each line's text and print one JSON verdict a line.

    Each verdict starts with ``flagged``, ``score`` and ``detectors`` (names), then
    ``action``, ``channel`` and the detections. Exit 0 after scanning every line, 2 for
    a bad file or line (nothing is printed then).
    """
    try:
        if channel not in CHANNELS:
            raise ConfigError(f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}")
        texts = _read(file)
        guard = Guard(GuardConfig(record_events=False))
    except WorkbenchError as exc:
        fail(exc)
    for text in texts:
        typer.echo(json.dumps(guard.scan(text, channel).to_dict(), ensure_ascii=False))

"""SARIF 2.1.0 for code scanning: rules with their help text, results with regions and fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from packlint import DOCS_URL, __version__
from packlint.diagnostics import FAILURE_NAMES, FileError
from packlint.report import Run

FAILURE_SUMMARIES = {
    "PKL001": "The file could not be read.",
    "PKL002": "The file could not be decoded as Python source.",
    "PKL003": "The file is not valid Python: it could not be parsed.",
    "PKL004": "packlint failed while analysing the file (a bug in packlint).",
    "PKL005": "A fix could not be applied or written; the file was left unchanged.",
}

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_DESCRIPTION = 1024  # GitHub rejects a longer fullDescription


def plain_text(markdown: str) -> str:
    """A rule's Markdown as plain text: headings end in a colon, code blocks are indented, no backticks."""
    out: list[str] = []
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            out.append(("    " + line).rstrip())
        elif line.startswith("#"):
            title = line.lstrip("# ").rstrip()
            out.append(title if title.endswith(("?", ":", ".")) else title + ":")
        else:
            out.append(line.replace("`", ""))
    return "\n".join(out).strip() + "\n"


def rule_descriptor(rule: Any) -> dict[str, Any]:
    """A reportingDescriptor for one rule, built from its documentation."""
    what = " ".join(rule.sections().get("What it does", "").split())
    full = what if len(what) <= MAX_DESCRIPTION else what[: MAX_DESCRIPTION - 1] + "…"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary()},
        "fullDescription": {"text": full},
        "help": {"text": plain_text(rule.documentation()), "markdown": rule.documentation()},
        "helpUri": DOCS_URL.format(code=rule.code),
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["correctness", "pytorch"], "precision": "high"},
    }


def _artifact(path: str, root: Path) -> dict[str, Any]:
    absolute = Path(os.path.abspath(path))
    try:
        return {"uri": absolute.relative_to(root).as_posix(), "uriBaseId": "%SRCROOT%"}
    except ValueError:
        return {"uri": absolute.as_uri()}


def notification(error: FileError, path: str, root: Path, index: int) -> dict[str, Any]:
    """A file that could not be checked, as a tool execution notification."""
    physical: dict[str, Any] = {"artifactLocation": _artifact(path, root)}
    if error.location is not None:
        physical["region"] = {"startLine": error.location.row, "startColumn": error.location.column}
    return {
        "level": "error",
        "message": {"text": f"{error.code} {error.reason}"},
        "locations": [{"physicalLocation": physical}],
        "descriptor": {"id": error.code, "index": index},
    }


def render(run: Run) -> str:
    """The SARIF log."""
    from packlint.rules import REGISTRY

    index = {rule.code: i for i, rule in enumerate(REGISTRY)}
    failure_index = {code: i for i, code in enumerate(FAILURE_NAMES)}
    root = Path(run.root).resolve()
    results = []
    seen: dict[str, int] = {}
    for result, d in run.diagnostics():
        location = _artifact(result.path, root)
        uri = location["uri"]
        key = f"{uri}:{d.code}:{d.message}"
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.sha256(f"{key}:{seen[key]}".encode()).hexdigest()[:32]
        # In a notebook the region is in the .ipynb file's own lines; the cell position goes in properties.
        start, end = (d.cell.file_location, d.cell.file_end_location) if d.cell else (d.location, d.end_location)
        extra: dict[str, Any] = {}
        if d.cell is not None:
            extra["properties"] = {
                "notebookCell": d.cell.number,
                "cellLocation": {"row": d.location.row, "column": d.location.column},
                "cellEndLocation": {"row": d.end_location.row, "column": d.end_location.column},
            }
        results.append(
            {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": "error",
                "message": {"text": d.message},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": location,
                            "region": {
                                "startLine": start.row,
                                "startColumn": start.column,
                                "endLine": end.row,
                                "endColumn": end.column,
                            },
                        }
                    }
                ],
                "partialFingerprints": {"packlint/v1": fingerprint},
                **extra,
            }
        )
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "packlint",
                        "version": __version__,
                        "informationUri": DOCS_URL.rsplit("/docs/", 1)[0],
                        "rules": [rule_descriptor(rule) for rule in REGISTRY],
                        "notifications": [
                            {"id": code, "name": name, "shortDescription": {"text": FAILURE_SUMMARIES[code]}}
                            for code, name in FAILURE_NAMES.items()
                        ],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not run.failed,
                        "toolExecutionNotifications": [
                            notification(error, result.path, root, failure_index.get(error.code, 0))
                            for result, error in run.failures()
                        ],
                    }
                ],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"

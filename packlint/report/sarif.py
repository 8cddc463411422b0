"""SARIF 2.1.0 for code scanning: rules with their help text, results with regions and fingerprints."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from packlint import DOCS_URL, __version__
from packlint.report import Run

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
MAX_DESCRIPTION = 1024  # GitHub rejects a longer fullDescription


def _plain(markdown: str) -> str:
    return " ".join(line.strip("`# ") for line in markdown.splitlines() if line.strip() and line.strip() != "```")


def rule_descriptor(rule: Any) -> dict[str, Any]:
    """A reportingDescriptor for one rule, built from its documentation."""
    what = " ".join(rule.sections().get("What it does", "").split())
    full = what if len(what) <= MAX_DESCRIPTION else what[: MAX_DESCRIPTION - 1] + "…"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary()},
        "fullDescription": {"text": full},
        "help": {"text": _plain(rule.documentation()), "markdown": rule.documentation()},
        "helpUri": DOCS_URL.format(code=rule.code),
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["correctness", "pytorch"], "precision": "high"},
    }


def render(run: Run) -> str:
    """The SARIF log."""
    from packlint.rules import REGISTRY

    index = {rule.code: i for i, rule in enumerate(REGISTRY)}
    root = Path(run.root).resolve()
    results = []
    seen: dict[str, int] = {}
    for result, d in run.diagnostics():
        absolute = Path(os.path.abspath(result.path))
        try:
            uri, base = absolute.relative_to(root).as_posix(), "%SRCROOT%"
        except ValueError:
            uri, base = absolute.as_uri(), None
        key = f"{uri}:{d.code}:{d.message}"
        seen[key] = seen.get(key, 0) + 1
        fingerprint = hashlib.sha256(f"{key}:{seen[key]}".encode()).hexdigest()[:32]
        location: dict[str, Any] = {"uri": uri}
        if base:
            location["uriBaseId"] = base
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
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri() + "/"}},
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2) + "\n"

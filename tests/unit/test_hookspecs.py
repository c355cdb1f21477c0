"""Meta-tests: the hookspecs are the plugin author's documentation, so they must be complete."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from octane.core import hookspecs

HOOKS = {
    name: value
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, f"{hookspecs.PROJECT_NAME}_spec")
}
TESTS = Path(__file__).resolve().parents[1]


def test_the_design_card_hooks_exist() -> None:
    assert {"compute_charges", "apply_adjustments", "deliver_invoice", "collect_payment"} <= set(
        HOOKS
    )


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hookspec_documents_every_argument_and_the_rules(name: str) -> None:
    spec = HOOKS[name]
    doc = inspect.getdoc(spec) or ""
    assert doc, f"{name} has no docstring"
    for parameter in inspect.signature(spec).parameters:
        assert f":param {parameter}:" in doc, f"{name} does not document '{parameter}'"
    assert ":return:" in doc, f"{name} does not say what it returns"
    assert "Called" in doc, f"{name} does not say when it is called"
    assert "Must never" in doc, f"{name} does not say what it must never do"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_is_exercised_by_a_test(name: str) -> None:
    pattern = re.compile(rf"""(["']{name}["']|def {name}\(|\.hook\.{name}\()""")
    users = [
        path
        for path in TESTS.rglob("test_*.py")
        if path.name != Path(__file__).name and pattern.search(path.read_text())
    ]
    assert users, f"no test calls or implements the hook '{name}'"

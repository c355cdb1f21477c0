"""The hook reference plugin authors read (docs/hooks.md) is generated from hookspecs.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from octane.core.hook_reference import HOOK_KINDS, hook_functions, render_hook_reference

DOCS = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def test_every_hook_has_a_kind_and_a_documented_contract() -> None:
    names = [function.__name__ for function in hook_functions()]
    assert sorted(names) == sorted(HOOK_KINDS), "give a new hook its kind in HOOK_KINDS"
    for function in hook_functions():
        doc = function.__doc__ or ""
        assert len(doc.strip()) > 80, f"{function.__name__} needs a docstring for authors"


def test_docs_hooks_md_is_up_to_date() -> None:
    expected = render_hook_reference()
    assert DOCS.read_text() == expected, (
        "docs/hooks.md is out of date: run `octane plugins hooks > docs/hooks.md`"
    )
    for name in HOOK_KINDS:
        assert f"### `{name}`" in expected


def test_octane_plugins_hooks_prints_the_reference() -> None:
    octane = Path(sys.executable).parent / "octane"
    printed = subprocess.run(
        [str(octane), "plugins", "hooks"], capture_output=True, text=True, check=True
    )
    assert printed.stdout == render_hook_reference()

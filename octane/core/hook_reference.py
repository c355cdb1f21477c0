"""The hook reference in ``docs/hooks.md``, generated from the docstrings in
:mod:`octane.core.hookspecs` so the two can never disagree.

``octane plugins hooks`` prints it; a test fails when ``docs/hooks.md`` is out of date.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from octane.core import hookspecs

__all__ = ["HOOK_KINDS", "hook_functions", "render_hook_reference"]

HOOK_KINDS: dict[str, str] = {
    "compute_charges": "money",
    "apply_adjustments": "money",
    "deliver_invoice": "action",
    "send_notification": "action",
    "collect_payment": "action",
    "reconcile_payment": "action",
    "render_invoice_pdf": "service",
    "register_payment_providers": "registration",
    "register_delivery_channels": "registration",
    "register_settings_panels": "registration",
    "register_routes": "registration",
    "register_jobs": "registration",
    "register_template_dirs": "registration",
    "plugin_config_schema": "registration",
    "check_compatibility": "registration",
}
"""Every hook's kind; a new hook must be given one (a test checks)."""

_KIND_TITLES = {
    "money": (
        "Money hooks",
        "Called for every active plugin while an invoice is (re)computed. Pure computations.",
    ),
    "action": (
        "Action hooks",
        "Called for one plugin only: the owner of the payment provider or delivery channel "
        "in use. May be `async def` and may take `context`.",
    ),
    "service": (
        "Service hooks",
        "Asked plugin by plugin (by name) until one answers; may take `context`.",
    ),
    "registration": (
        "Registration hooks",
        "Called once at start-up to learn what a plugin offers.",
    ),
}

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr):`~?([\w.]+)`")


def hook_functions() -> list[Callable[..., Any]]:
    """The hook specifications, in the order ``hookspecs.py`` defines them."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return [
        value
        for value in vars(hookspecs).values()
        if inspect.isfunction(value) and hasattr(value, marker)
    ]


def _markdown(docstring: str) -> list[str]:
    """reST field lists and roles as Markdown: ``:param x:`` becomes a bullet."""
    out: list[str] = []
    for raw in docstring.splitlines():
        line = _ROLE.sub(lambda m: f"`{m.group(1).rsplit('.', 1)[-1]}`", raw)
        line = line.replace("``", "`")
        field = re.match(r":param (\w+):\s*(.*)", line)
        if field:
            out.append(f"- `{field.group(1)}`: {field.group(2)}")
        elif line.startswith(":return:"):
            out.append(f"- **returns**: {line.removeprefix(':return:').strip()}")
        elif line.startswith("    ") and out and out[-1].startswith("- "):
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def _signature(function: Callable[..., Any]) -> str:
    parameters = inspect.signature(function).parameters.values()
    arguments = ",\n".join(f"    {p.name}: {p.annotation}" for p in parameters)
    returns = inspect.signature(function).return_annotation
    body = f"(\n{arguments},\n)" if arguments else "()"
    return f"def {function.__name__}{body} -> {returns}"


def render_hook_reference() -> str:
    lines = [
        "# Hook reference",
        "",
        "Generated from the docstrings in `octane/core/hookspecs.py` by",
        "`octane plugins hooks > docs/hooks.md`; do not edit by hand. An implementation may",
        "take any subset of a hook's arguments, in any order. The guide is",
        "[`plugins.md`](plugins.md).",
        "",
    ]
    functions = hook_functions()
    for kind, (title, summary) in _KIND_TITLES.items():
        lines += [f"## {title}", "", summary, ""]
        for function in functions:
            if HOOK_KINDS.get(function.__name__) != kind:
                continue
            spec = getattr(function, f"{hookspecs.PROJECT_NAME}_spec")
            lines += [f"### `{function.__name__}`", ""]
            if spec.get("firstresult"):
                lines += ["*The first non-None answer wins.*", ""]
            lines += ["```python", _signature(function), "```", ""]
            lines += _markdown(inspect.getdoc(function) or "")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"

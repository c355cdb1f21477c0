"""``octane plugins new NAME``: a new plugin distribution, ready to fill in.

The files come from the templates in ``octane/plugin_template/`` (shipped in the wheel):
a ``pyproject.toml`` with the ``octane.plugins`` entry point, a package with a commented
payment provider skeleton (config schema, ``register_payment_providers``,
``collect_payment``, ``reconcile_payment``), tests that load it and subclass the payment
contract suite, and a README. ``{{placeholders}}`` in them are replaced by the names
derived from NAME.
"""

from __future__ import annotations

import keyword
import re
from importlib import metadata, resources
from pathlib import Path

from octane.core.errors import ValidationError
from octane.core.plugins import BUNDLED_PLUGINS, ENTRY_POINT_GROUP, ESSENTIAL_PLUGINS

__all__ = ["TEMPLATE_FILES", "new_plugin", "plugin_names", "validate_plugin_name"]

TEMPLATE_FILES: dict[str, str] = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "package/__init__.py.tmpl": "{{package}}/__init__.py",
    "tests/conftest.py.tmpl": "tests/conftest.py",
    "tests/test_contract.py.tmpl": "tests/test_contract.py",
}
"""Template (in ``octane/plugin_template/``) -> the file it becomes in the new distribution."""

_NAME = re.compile(r"[a-z][a-z0-9_]*")


def validate_plugin_name(name: str) -> None:
    """Refuse a NAME that is not a lowercase identifier or that a plugin already has."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name) or name.endswith("_"):
        raise ValidationError(
            f"NAME must be a lowercase Python identifier (letters, digits and underscores, "
            f"starting with a letter), such as 'acmepay'; got '{name}'.",
            field="NAME",
        )
    if name in ESSENTIAL_PLUGINS or name in BUNDLED_PLUGINS:
        kind = "essential" if name in ESSENTIAL_PLUGINS else "bundled"
        raise ValidationError(
            f"NAME '{name}' is the name of Octane's {kind} plugin '{name}'; choose another.",
            field="NAME",
        )
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        dist = entry_point.dist.name if entry_point.dist else "an installed distribution"
        raise ValidationError(
            f"NAME '{name}' is the name of an installed plugin (from {dist}); choose another.",
            field="NAME",
        )


def plugin_names(name: str) -> dict[str, str]:
    """The names a plugin called ``name`` goes by, for the templates' placeholders."""
    from octane import __version__

    return {
        "name": name,
        "package": f"octane_{name}",
        "distribution": f"octane-{name.replace('_', '-')}",
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "title": " ".join(part.capitalize() for part in name.split("_")),
        "env": name.upper(),
        "octane_version": __version__,
    }


def _fill(text: str, names: dict[str, str]) -> str:
    for key, value in names.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def new_plugin(name: str, directory: Path | None = None) -> tuple[Path, list[Path]]:
    """Create the distribution of plugin ``name`` in ``directory`` (default
    ``./octane-<name>``, which must not exist); the folder and the files written."""
    validate_plugin_name(name)
    names = plugin_names(name)
    target = directory if directory is not None else Path.cwd() / names["distribution"]
    if target.exists():
        argument = "--dir" if directory is not None else "NAME"
        raise ValidationError(
            f"The folder '{target}' already exists; choose another "
            f"{'--dir' if directory is not None else 'NAME or give --dir'}.",
            field=argument,
        )
    templates = resources.files("octane") / "plugin_template"
    written: list[Path] = []
    for source, destination in TEMPLATE_FILES.items():
        path = target / _fill(destination, names)
        path.parent.mkdir(parents=True, exist_ok=True)
        template = templates
        for part in source.split("/"):
            template = template / part
        path.write_text(_fill(template.read_text(encoding="utf-8"), names), encoding="utf-8")
        written.append(path)
    return target, written

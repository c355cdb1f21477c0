"""Where templates come from: the vendor's folder, then plugins' folders, then Octane's."""

from __future__ import annotations

from pathlib import Path

import octane

__all__ = ["core_template_dir", "template_dirs"]


def core_template_dir() -> Path:
    """Octane's own ``templates/`` (inside the wheel, or at the top of a source checkout)."""
    package = Path(octane.__file__).parent
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


def template_dirs(vendor_dir: Path | None, plugin_dirs: list[Path]) -> list[Path]:
    """Search order: a vendor's overrides win over plugins, plugins over the core."""
    dirs = [vendor_dir] if vendor_dir and vendor_dir.is_dir() else []
    return [*dirs, *plugin_dirs, core_template_dir()]

"""Octane: an embeddable, plugin-based usage-based billing framework.

Plugin authors need one import::

    from octane import hookimpl
"""

from octane.core.hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = ["__version__", "hookimpl"]

"""A pool of rendering processes per running Octane, started on first use."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from octane.core.plugin_context import PluginContext
from octane.plugins.pdf_email.config import PdfEmailConfig
from octane.plugins.pdf_email.render_worker import html_to_pdf, warm_up

__all__ = ["render_html"]


def _pool(context: PluginContext) -> ProcessPoolExecutor:
    pool: ProcessPoolExecutor | None = context.state.get("pool")
    if pool is None:
        config: PdfEmailConfig = context.config
        pool = ProcessPoolExecutor(
            max_workers=config.render_processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=warm_up,
        )
        context.state["pool"] = pool

        async def close() -> None:
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)

        context.on_close(close)
    return pool


async def render_html(context: PluginContext, html: str) -> bytes:
    """The PDF of ``html``, rendered in one of the pool's processes.

    A pool whose process died (killed, out of memory) is broken for good: it is
    replaced by a fresh one and the rendering is tried once more.
    """
    loop = asyncio.get_running_loop()
    pool = _pool(context)
    try:
        return await loop.run_in_executor(pool, html_to_pdf, html)
    except BrokenProcessPool:
        if context.state.get("pool") is pool:
            del context.state["pool"]
            pool.shutdown(wait=False, cancel_futures=True)
        return await loop.run_in_executor(_pool(context), html_to_pdf, html)

"""PDF rendering benchmark: the invoice template rendered by WeasyPrint in the plugin's
process pool, exactly as the ``pdf_email`` plugin renders invoices.

Run with ``make bench`` or ``.venv/bin/python bench/pdf.py [--runs N]``.

1. One-page invoice (3 usage lines, a fixed fee, a discount, tax): the median and p95
   of ``--runs`` renders one after another through a pool of one process (warmed up:
   WeasyPrint imported and fonts loaded at process start), HTML building included.
2. A 1,000-line invoice: its time per page, against the one-page time.
3. Throughput: ``--batch`` one-page renders submitted at once to a pool of one process,
   then of two; the ratio of renders per second.

Targets (issue #6): one page at most 150 ms median; a 1,000-line invoice at most 1.5x
the one-page time per page; two processes at least 1.7x the throughput of one.
Prints one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pypdf import PdfReader  # noqa: E402

from octane.core.branding import Branding  # noqa: E402
from octane.core.contracts import VendorView  # noqa: E402
from octane.core.documents import FileDocumentStore  # noqa: E402
from octane.core.plugin_context import PluginContext  # noqa: E402
from octane.plugins.pdf_email.config import PdfEmailConfig  # noqa: E402
from octane.plugins.pdf_email.render_pool import render_html  # noqa: E402
from octane.plugins.pdf_email.rendering import invoice_html  # noqa: E402
from octane.plugins.pdf_email.sample import sample_invoice  # noqa: E402

VENDOR = VendorView(id="ven_bench", name="Bench Cloud Inc.")
BRANDING = Branding(
    company_name="Bench Cloud Inc.",
    address_lines=("500 Howard Street", "San Francisco, CA 94105"),
    tax_id="US-99-1234567",
    footer="Bench Cloud Inc. · billing@bench.example",
)


def context(directory: Path, processes: int) -> PluginContext:
    return PluginContext(
        name="pdf_email",
        config=PdfEmailConfig(render_processes=processes),
        data_dir=directory,
        documents=FileDocumentStore(directory / "documents"),
    )


async def render(ctx: PluginContext, lines: int) -> bytes:
    invoice = sample_invoice(VENDOR, usage_lines=lines)
    html = await invoice_html(ctx, invoice, draft=False, branding=BRANDING)
    return await render_html(ctx, html)


async def warm(ctx: PluginContext, processes: int) -> None:
    await asyncio.gather(*(render(ctx, 3) for _ in range(processes * 2)))


async def timed(ctx: PluginContext, lines: int, runs: int) -> tuple[list[float], bytes]:
    times, pdf = [], b""
    for _ in range(runs):
        started = time.perf_counter()
        pdf = await render(ctx, lines)
        times.append(time.perf_counter() - started)
    return times, pdf


async def throughput(ctx: PluginContext, batch: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(render(ctx, 3) for _ in range(batch)))
    return batch / (time.perf_counter() - started)


async def main(runs: int, batch: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        one = context(Path(tmp), 1)
        await warm(one, 1)
        page_times, page_pdf = await timed(one, 3, runs)
        long_times, long_pdf = await timed(one, 1000, 3)
        single = await throughput(one, batch)
        await one.close()
        two = context(Path(tmp), 2)
        await warm(two, 2)
        double = await throughput(two, batch)
        await two.close()
    one_page = statistics.median(page_times)
    pages = len(PdfReader(io.BytesIO(long_pdf)).pages)
    assert len(PdfReader(io.BytesIO(page_pdf)).pages) == 1
    per_page = statistics.median(long_times) / pages
    return {
        "one_page_ms": {
            "median": round(one_page * 1000, 1),
            "p95": round(sorted(page_times)[int(0.95 * (len(page_times) - 1))] * 1000, 1),
            "runs": runs,
        },
        "thousand_lines": {
            "pages": pages,
            "total_ms": round(statistics.median(long_times) * 1000, 1),
            "per_page_ms": round(per_page * 1000, 1),
            "per_page_vs_one_page": round(per_page / one_page, 2),
        },
        "throughput_per_s": {
            "one_process": round(single, 1),
            "two_processes": round(double, 1),
            "ratio": round(double / single, 2),
            "batch": batch,
        },
        "targets_met": {
            "one_page_150ms": one_page <= 0.150,
            "per_page_1_5x": per_page / one_page <= 1.5,
            "two_processes_1_7x": double / single >= 1.7,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=40)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.runs, arguments.batch)), indent=2))

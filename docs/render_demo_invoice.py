"""Render page 1 of the demo's latest finalized invoice to ``docs/demo-invoice.png``.

Run from the project root with ``.venv/bin/python docs/render_demo_invoice.py``; it
seeds the demo into a temporary data folder, takes Acme Corporation's last finalized
invoice, renders its PDF the way the product does, and rasterises page 1 with
``pdftoppm`` (Debian's poppler-utils; only needed for this picture).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octane.core.config import load_config  # noqa: E402
from octane.core.customers import get_customer_row  # noqa: E402
from octane.core.demo import seed_demo  # noqa: E402
from octane.core.invoice_documents import invoice_pdf  # noqa: E402
from octane.core.runtime import start_octane  # noqa: E402
from octane.core.store.tables import Invoice  # noqa: E402


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as data:
        config = load_config(env={"OCTANE_DATA_DIR": data})
        runtime = await start_octane(config, run_migrations=True)
        try:
            summary = await seed_demo(runtime)
            customer = await get_customer_row(summary.vendor_id, "acme")
            row = await (
                Invoice.select(Invoice.id, Invoice.finalized_at)
                .where((Invoice.customer == customer["id"]) & (Invoice.number.is_not_null()))
                .order_by(Invoice.period_start, ascending=False)
                .first()
            )
            assert row is not None, "the demo finalized no invoice"
            pdf, _ = await invoice_pdf(
                runtime.plugins, summary.vendor_id, row["id"], at=row["finalized_at"]
            )
        finally:
            await runtime.close()
        source = Path(data) / "demo-invoice.pdf"
        source.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "80",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(source),
                str(Path(data) / "page"),
            ],
            check=True,
        )
        shutil.copyfile(Path(data) / "page.png", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(ROOT / "docs" / "demo-invoice.png"))

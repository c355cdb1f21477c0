"""Fault tests with real processes: workers killed mid-transaction, duplicated jobs,
and two workers racing over the same cycles. In every case: exactly one invoice per
customer-cycle, exactly one successful charge per invoice, no gap in invoice numbers,
and every cycle eventually invoiced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from octane.core.catalog import create_meter, create_plan
from octane.core.clock import TestClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.customers import create_customer
from octane.core.jobs import make_worker
from octane.core.ledger import check_invariants
from octane.core.lifecycle import close_ended_cycles, run_due_work
from octane.core.lifecycle_jobs import (
    LIFECYCLE_JOBS,
    close_batch_job,
    finalize_batch_job,
    lifecycle_sweeper,
)
from octane.core.queue import connect_queue, job_options
from octane.core.store.engine import close_engine, open_engine
from octane.core.store.tables import BillingCycle, Invoice, PaymentAttempt, SandboxCharge
from octane.core.subscriptions import create_subscription
from octane.core.vendor_settings import update_invoice_settings
from octane.core.vendors import create_vendor
from tests.helpers import PLUGINS

FAULT_PLUGIN = '''
import asyncio, os, pathlib

from octane import hookimpl
from octane.core.builtin import sandbox
from octane.core.contracts import PaymentProviderInfo

CONTROL = pathlib.Path(os.environ["FAULT_PLUGIN_DIR"])


async def _pause(stage, ident):
    """Hang (until killed) while the control file slow-<stage> exists."""
    if (CONTROL / f"slow-{stage}").exists():
        (CONTROL / f"entered-{stage}-{ident}").touch()
        await asyncio.sleep(3600)


@hookimpl
async def compute_charges(cycle):
    await _pause("finalize", cycle.id)
    return []


@hookimpl
def register_payment_providers():
    return [PaymentProviderInfo(name="faultpay", display_name="Fault Pay")]


@hookimpl
async def collect_payment(attempt, vendor, customer):
    result = await sandbox.collect_payment(attempt=attempt, vendor=vendor, customer=customer)
    await _pause("collect", attempt.invoice_id)  # charged, but the answer never arrives
    return result


@hookimpl
async def reconcile_payment(attempt, customer):
    return await sandbox.reconcile_payment(attempt=attempt, customer=customer)
'''


@pytest.fixture
def site() -> Iterator[Path]:
    """A short temporary folder (the embedded Redis socket path is limited to 108 bytes)
    holding the fault plugin as an installed distribution and the worker's data."""
    with tempfile.TemporaryDirectory(prefix="of-", dir="/tmp") as folder:
        root = Path(folder)
        (root / "octane_fault_plugin.py").write_text(textwrap.dedent(FAULT_PLUGIN))
        info = root / "octane_fault_plugin-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: octane-fault-plugin\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text("[octane.plugins]\nfault = octane_fault_plugin\n")
        (root / "control").mkdir()
        yield root


@pytest.fixture
async def bound(db_url: str) -> AsyncIterator[str]:
    engine = await open_engine(db_url)
    yield db_url
    await close_engine(engine)


class Workers:
    def __init__(self, site: Path, db_url: str) -> None:
        self.site, self.db_url = site, db_url
        self.running: list[subprocess.Popen[str]] = []

    def env(self, sweep_seconds: int = 2) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
        env.update(
            {
                "PYTHONPATH": str(self.site),
                "OCTANE_DATA_DIR": str(self.site / "data"),
                "OCTANE_DATABASE_URL": self.db_url,
                "OCTANE_PLUGINS__ENABLED": "sandbox,fault",
                "FAULT_PLUGIN_DIR": str(self.site / "control"),
                "OCTANE_WORKER__SWEEP_SECONDS": str(sweep_seconds),
            }
        )
        return env

    def start(self, sweep_seconds: int = 2) -> subprocess.Popen[str]:
        # Output goes to a file: a pipe nobody reads fills up and blocks the worker.
        log = open(self.site / f"worker-{len(self.running)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "octane", "worker"],
            env=self.env(sweep_seconds),
            cwd=self.site,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        self.running.append(process)
        return process

    def kill(self, process: subprocess.Popen[str]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> str:
        """Stop every worker; return (and print, for a failing test's report) their output."""
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        output = "".join(path.read_text() for path in sorted(self.site.glob("worker-*.log")))
        print(output[-20_000:])
        return output


async def _wait_for(
    condition: Any, what: str, seconds: float = 120, workers: Workers | None = None
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await condition():
            return
        if workers is not None and workers.running and workers.running[-1].poll() is not None:
            raise AssertionError(f"the worker exited while waiting for {what}")
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def _vendor_with_customers(count: int, settings: dict[str, Any]) -> str:
    clock = TestClock(utc(2026, 1, 20))
    made = await create_vendor(
        name="Faults", email="f@f.example", clock=clock, test_clock_start=clock.now()
    )
    vendor = str(made["id"])
    await update_invoice_settings(
        vendor,
        {"invoice_delivery": False, "invoice_grace_period": "P1D", **settings},
        providers=["sandbox", "faultpay"],
        channels=["sandbox"],
    )
    await create_meter(vendor, name="calls", aggregation="sum", clock=clock)
    await create_plan(vendor, name="p", currency="USD", period="month", fixed_fee="12", clock=clock)
    for n in range(count):
        await create_customer(vendor, {"name": f"c{n:04d}", "currency": "USD"}, clock=clock)
        await create_subscription(
            vendor, f"c{n:04d}", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
        )
    return vendor


async def _assert_billed_once(vendor: str, customers: int) -> None:
    invoices = await Invoice.select().where(Invoice.vendor == vendor)
    assert len(invoices) == customers
    assert len({i["cycle"] for i in invoices}) == customers
    assert sorted(i["number"] for i in invoices) == [
        f"INV-2026-{n:06d}" for n in range(1, customers + 1)
    ]
    assert (
        await BillingCycle.count().where(
            (BillingCycle.vendor == vendor)
            & (BillingCycle.period_end <= utc(2026, 2, 1))
            & (BillingCycle.state != "invoiced")
        )
        == 0
    )
    assert await check_invariants(vendor) == []


async def test_a_worker_killed_mid_finalization_loses_and_doubles_nothing(
    bound: str, site: Path
) -> None:
    vendor = await _vendor_with_customers(3, {"auto_charge": False})
    await advance_test_clock(vendor, utc(2026, 2, 3))
    (site / "control" / "slow-finalize").touch()
    workers = Workers(site, bound)
    first = workers.start()
    try:
        await _wait_for(
            lambda: _entered(site, "finalize"),
            "the worker to be inside a finalization",
            60,
            workers,
        )
        workers.kill(first)  # inside the finalizing transaction
        assert await Invoice.count().where(Invoice.status != "draft") == 0
        (site / "control" / "slow-finalize").unlink()
        workers.start()

        async def all_finalized() -> bool:
            return await Invoice.count().where(Invoice.status == "finalized") == 3

        await _wait_for(all_finalized, "the restarted worker to finalize every invoice")
    finally:
        output = workers.stop_all()
    await _assert_billed_once(vendor, 3)
    assert "Traceback" not in output, output[-5000:]


async def _entered(site: Path, stage: str) -> bool:
    return any((site / "control").glob(f"entered-{stage}-*"))


async def test_a_worker_killed_mid_charge_charges_once(bound: str, site: Path) -> None:
    vendor = await _vendor_with_customers(3, {"payment_provider": "faultpay"})
    await advance_test_clock(vendor, utc(2026, 2, 2))
    await run_due_work(PLUGINS, vendor, await vendor_clock(vendor))  # finalized Feb 2
    await advance_test_clock(vendor, utc(2026, 2, 5))  # the payment grace period is over
    (site / "control" / "slow-collect").touch()
    workers = Workers(site, bound)
    first = workers.start()
    try:
        await _wait_for(
            lambda: _entered(site, "collect"), "the worker to be inside a charge", 60, workers
        )
        workers.kill(first)  # the provider charged; our attempt never heard back
        (site / "control" / "slow-collect").unlink()
        await advance_test_clock(vendor, utc(2026, 2, 5, 0, 6))  # past the reconcile delay
        workers.start()

        async def all_paid() -> bool:
            return await Invoice.count().where(Invoice.status == "paid") == 3

        await _wait_for(all_paid, "every invoice to be paid")
    finally:
        workers.stop_all()
    await _assert_billed_once(vendor, 3)
    for invoice in await Invoice.select(Invoice.id).where(Invoice.vendor == vendor):
        charges = await SandboxCharge.select().where(SandboxCharge.invoice == invoice["id"])
        assert [c["status"] for c in charges] == ["succeeded"]
        attempts = await PaymentAttempt.select().where(PaymentAttempt.invoice == invoice["id"])
        assert [a["status"] for a in attempts] == ["succeeded"]


async def test_the_same_job_three_times_finalizes_once(bound: str, site: Path) -> None:
    vendor = await _vendor_with_customers(2, {"auto_charge": False})
    await advance_test_clock(vendor, utc(2026, 2, 3))
    assert await close_ended_cycles(vendor, await vendor_clock(vendor)) == 2
    handle = await connect_queue(None, site / "data")
    try:
        jobs = []
        for invoice in await Invoice.select(Invoice.id).where(Invoice.vendor == vendor):
            for copy in range(3):
                jobs.append(
                    await handle.queue.enqueue(
                        "finalize_invoice",
                        vendor_id=vendor,
                        invoice_id=invoice["id"],
                        **job_options(key=f"finalize:{invoice['id']}:copy{copy}", retry_delay=0.1),
                    )
                )
        worker = make_worker(
            handle.queue,
            concurrency=6,
            context={"octane": SimpleNamespace(plugins=PLUGINS)},
            functions=LIFECYCLE_JOBS,
        )
        task = asyncio.create_task(worker.start())

        async def all_done() -> bool:
            for job in jobs:
                await job.refresh()
            return all(job.status.value == "complete" for job in jobs)

        await _wait_for(all_done, "the six jobs", seconds=60)
        await worker.stop()
        task.cancel()
    finally:
        await handle.aclose()
    await _assert_billed_once(vendor, 2)


async def test_two_workers_close_the_same_500_cycles_once(bound: str, site: Path) -> None:
    vendor = await _vendor_with_customers(500, {"auto_charge": False})
    await advance_test_clock(vendor, utc(2026, 2, 3))
    workers = Workers(site, bound)
    workers.start()
    workers.start()
    try:

        async def all_finalized() -> bool:
            return await Invoice.count().where(Invoice.status == "finalized") == 500

        await _wait_for(all_finalized, "500 finalized invoices", seconds=180)
    finally:
        workers.stop_all()
    await _assert_billed_once(vendor, 500)


class _CapturingQueue:
    """Records what the sweep enqueues (a stand-in for SAQ's queue in this one test)."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, dict[str, Any]]] = []

    async def enqueue(self, function: str, **kwargs: Any) -> Any:
        self.jobs.append((function, kwargs))
        return object()


async def test_the_sweep_finalizes_a_customers_months_oldest_first(bound: str) -> None:
    """Two months due at once (a worker was down): the sweep hands out only each customer's
    oldest draft, so concurrent jobs cannot number February before January."""
    vendor = await _vendor_with_customers(2, {"auto_charge": False})
    await advance_test_clock(vendor, utc(2026, 2, 3))
    await close_ended_cycles(vendor, await vendor_clock(vendor))
    await advance_test_clock(vendor, utc(2026, 3, 3))
    queue = _CapturingQueue()
    context = {"queue": queue, "octane": SimpleNamespace(plugins=PLUGINS)}
    await lifecycle_sweeper(context)
    # One billing job for the customers' bucket: February's cycles to close, and the
    # customers with a due draft (January's).
    ((name, kwargs),) = queue.jobs
    assert name == "close_cycles"
    january = await Invoice.select(Invoice.id, Invoice.customer).where(
        (Invoice.vendor == vendor) & (Invoice.period_end == utc(2026, 2, 1))
    )
    assert kwargs["customer_ids"] == sorted(r["customer"] for r in january)
    # The job closes February and, finding January still due, finalizes January only.
    closed = await close_batch_job(
        context,
        vendor_id=vendor,
        subscription_ids=kwargs["subscription_ids"],
        customer_ids=kwargs["customer_ids"],
    )
    assert closed == 2
    drafts = await Invoice.select(Invoice.id).where(Invoice.status == "draft")
    assert len(drafts) == 2 and not {r["id"] for r in drafts} & {r["id"] for r in january}
    queue.jobs.clear()
    await lifecycle_sweeper(context)  # now February's drafts are each customer's oldest
    (february,) = [kw["invoice_ids"] for name, kw in queue.jobs if name == "finalize_invoices"]
    for_february = await Invoice.select(Invoice.id).where(
        (Invoice.vendor == vendor) & (Invoice.period_end == utc(2026, 3, 1))
    )
    assert sorted(february) == sorted(r["id"] for r in for_february)
    await finalize_batch_job(context, vendor_id=vendor, invoice_ids=february)
    numbered = (
        await Invoice.select(Invoice.number, Invoice.period_end)
        .where(Invoice.vendor == vendor)
        .order_by(Invoice.number)
    )
    assert [r["period_end"] for r in numbered] == [utc(2026, 2, 1)] * 2 + [utc(2026, 3, 1)] * 2


async def test_a_clock_moved_on_workers_is_billed_by_them_at_once(bound: str, site: Path) -> None:
    """``octane clock advance --on-workers`` moves the clock and wakes the workers: their
    sweep runs once an hour here, so only the wake can have billed the month."""
    vendor = await _vendor_with_customers(3, {"auto_charge": False})
    workers = Workers(site, bound)
    workers.start(sweep_seconds=3600)
    try:
        log = site / "worker-0.log"
        await _wait_for(
            _log_says(log, "worker started"), "the worker to start", seconds=60, workers=workers
        )
        await asyncio.sleep(1)  # its start-up catch-up finds nothing due on Jan 20

        def advance(to: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*OCTANE, "clock", "advance", "--vendor", vendor, "--to", to, "--on-workers"],
                env=workers.env(),
                cwd=site,
                capture_output=True,
                text=True,
                timeout=60,
            )

        moved = advance("2026-02-03T00:00:00Z")
        assert moved.returncode == 0, moved.stderr
        assert "The clock is now 2026-02-03T00:00:00+00:00" in moved.stdout

        async def all_finalized() -> bool:
            return await Invoice.count().where(Invoice.status == "finalized") == 3

        await _wait_for(all_finalized, "3 finalized invoices", seconds=60, workers=workers)
        back = advance("2026-01-01T00:00:00Z")  # never backwards, and the field is named
        assert back.returncode == 1 and "(to)" in back.stderr, back.stderr
    finally:
        workers.stop_all()
    await _assert_billed_once(vendor, 3)
    assert (await vendor_clock(vendor)).now() == utc(2026, 2, 3)


OCTANE = (sys.executable, "-m", "octane")


def _log_says(log: Path, text: str) -> Any:
    async def check() -> bool:
        return log.exists() and text in log.read_text()

    return check

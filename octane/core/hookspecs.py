"""Octane's plugin hooks: the whole contract between the core and its plugins.

A plugin is a module (or object) with functions decorated by ``@hookimpl`` whose
names match the specifications below. An implementation may accept any subset of
a hook's arguments, in any order, so hooks can grow arguments without breaking
existing plugins::

    from octane import hookimpl

    @hookimpl
    def register_payment_providers():
        return [PaymentProviderInfo(name="acmepay", display_name="AcmePay")]

Three kinds of hooks live here:

* **Money hooks** (``compute_charges``, ``apply_adjustments``): called while an
  invoice is (re)computed. Pure computations: no I/O that changes anything.
* **Action hooks** (``deliver_invoice``, ``send_notification``, ``collect_payment``,
  ``reconcile_payment``):
  called for *one* plugin only, the one owning the channel or provider in use,
  never broadcast. They may return an awaitable (``async def``). They may take a
  ``context`` argument: the plugin's config block, data folder, document store and
  a place for long-lived handles, for the running Octane.
* **Service hooks** (``render_invoice_pdf``): asked plugin by plugin until one
  answers; they also receive ``context``.
* **Registration hooks** (``register_*``, ``plugin_config_schema``,
  ``check_compatibility``): called once at start-up to learn what a plugin offers.

Any hook may return a value, an awaitable, or a zero-argument callable returning
either; the core resolves all three.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Awaitable, Sequence

    from octane.core.contracts import (
        AdjustmentLine,
        AdjustmentStage,
        AttemptView,
        ChargeLine,
        CustomerView,
        CycleView,
        DeliveryChannelInfo,
        DeliveryResult,
        DraftInvoice,
        InvoiceView,
        JobSpec,
        Notification,
        PaymentProviderInfo,
        PaymentResult,
        PlanView,
        SettingsPanel,
        UsageTotal,
        VendorView,
    )
    from octane.core.plugin_context import PluginContext

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

PROJECT_NAME = "octane"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# ---------------------------------------------------------------------------
# Money hooks
# ---------------------------------------------------------------------------


@hookspec
def compute_charges(
    vendor: VendorView,
    customer: CustomerView,
    plan: PlanView,
    cycle: CycleView,
    usage: Sequence[UsageTotal],
) -> Sequence[ChargeLine] | Awaitable[Sequence[ChargeLine]] | None:
    """Return the charge lines of one billing cycle.

    Called whenever a draft invoice is computed or recomputed: during the invoice
    grace period (each correction refreshes the draft), at finalization, and for
    the "what do I owe right now" usage answer. It may be called many times for
    the same cycle and must return the same lines for the same input.

    :param vendor: The vendor (tenant) billing the customer.
    :param customer: The customer being billed.
    :param plan: The customer's price plan, with its metered components.
    :param cycle: The billing cycle; its period is half-open ``[start, end)``.
    :param usage: The aggregated quantity of every meter over the cycle's period.
    :return: A list of :class:`~octane.core.contracts.ChargeLine` (possibly empty),
        each amount already rounded to the currency's minor unit; or None.
        The lines of all implementations are combined; their order on the invoice
        does not depend on the order plugins are called in.

    Must never: write to the database, call a provider, or read the clock
    directly (use the cycle's period); the same input must give the same lines.
    """


@hookspec
def apply_adjustments(
    stage: AdjustmentStage,
    draft: DraftInvoice,
    vendor: VendorView,
    customer: CustomerView,
) -> Sequence[AdjustmentLine] | Awaitable[Sequence[AdjustmentLine]] | None:
    """Return adjustment lines (trials, discounts, tax, credits) for one stage.

    Called once per stage whenever a draft is computed, in this fixed order:
    ``trial``, ``discount``, ``tax`` (computed on the amount after trial and
    discounts), ``credit`` (a prepaid balance drawn against the total including
    tax). Every implementation called for a stage sees the same ``draft``: the
    charges plus the adjustments of the *earlier* stages. So money never depends
    on the order in which plugins are called.

    :param stage: The stage being computed; ignore stages you do not handle.
    :param draft: The invoice as computed so far (charges and earlier adjustments).
    :param vendor: The vendor billing the customer.
    :param customer: The customer being billed.
    :return: A list of :class:`~octane.core.contracts.AdjustmentLine` (negative
        amounts reduce the total; tax is positive), or None. The core refuses
        any result that would take the invoice total below zero.

    Must never: consume a credit or redeem a coupon for real (the core records
    consumption from the returned lines when the invoice is finalized), perform
    I/O that changes state, or return lines for another stage.
    """


# ---------------------------------------------------------------------------
# Action hooks (called only for the plugin that owns the channel or provider)
# ---------------------------------------------------------------------------


@hookspec
def deliver_invoice(
    invoice: InvoiceView,
    channel: str,
    vendor: VendorView,
    customer: CustomerView,
    settings: dict[str, Any],
    send_key: str,
    context: PluginContext,
) -> DeliveryResult | Awaitable[DeliveryResult]:
    """Deliver a finalized invoice through a channel this plugin owns.

    Called after finalization when the vendor's (or the customer's) invoice
    delivery is on, and again when a failed delivery is retried or the vendor
    asks for a resend. Only the plugin that registered ``channel`` (see
    ``register_delivery_channels``) is called. The invoice arrives "in flight";
    the result moves it to delivered or failed.

    :param invoice: The finalized invoice, with its lines and totals.
    :param channel: The name of the delivery channel to use (one of yours).
    :param vendor: The vendor sending the invoice.
    :param customer: The recipient.
    :param settings: The effective invoice settings for this customer.
    :param send_key: Identifies this send: the same for every retry of one delivery
        (a re-run after a crash included), new for each resend the vendor asks for
        (``<invoice id>`` first, then ``<invoice id>-resend-<n>``). Derive your
        message id from it and remember what you sent under it.
    :param context: This plugin's :class:`~octane.core.plugin_context.PluginContext`
        in the running Octane: its config block, the data folder, the document store,
        and ``state`` for clients or pools it keeps between calls.
    :return: A :class:`~octane.core.contracts.DeliveryResult`: ``delivered`` with a
        reference (e.g. a Message-ID), or ``failed`` with the error and whether a
        retry may help.

    Must never: send twice under one ``send_key`` (if you already sent it, answer
    ``delivered`` with the same reference), or change the invoice.
    """


@hookspec
def send_notification(
    notification: Notification,
    channel: str,
    vendor: VendorView,
    customer: CustomerView,
    settings: dict[str, Any],
    context: PluginContext,
) -> DeliveryResult | Awaitable[DeliveryResult]:
    """Send the customer a notification about an invoice through a channel this plugin owns.

    Called when the customer's notifications setting is on: after a failed charge
    (``payment_failed``, with the next attempt's time), after the last scheduled charge
    failed (``payment_final_failure``: the invoice is now uncollectible), and after a
    successful charge (``payment_received``). Only the plugin that registered
    ``channel`` is called: the same channel invoices are delivered on.

    :param notification: What to tell the customer, with the invoice, the attempt,
        the neutral failure code, a message and a remedy.
    :param channel: The name of the delivery channel to use (one of yours).
    :param vendor: The vendor sending it.
    :param customer: The recipient.
    :param settings: The effective invoice settings for this customer.
    :param context: This plugin's :class:`~octane.core.plugin_context.PluginContext`
        in the running Octane: its config block, the data folder, the document store,
        and ``state`` for clients or pools it keeps between calls.
    :return: A :class:`~octane.core.contracts.DeliveryResult`; a failed notification is
        recorded in the invoice's timeline and not retried.

    Must never: send twice for one ``notification.id`` (use it as the message id), or
    change anything about the invoice or the payment.
    """


@hookspec
def collect_payment(
    invoice: InvoiceView,
    provider: str,
    attempt: AttemptView,
    vendor: VendorView,
    customer: CustomerView,
    context: PluginContext,
) -> PaymentResult | Awaitable[PaymentResult]:
    """Charge the customer for an invoice through a provider this plugin owns.

    Called after the payment grace period when auto-charge is on, on each
    scheduled retry, and on a manual "retry payment". The core has already
    created and persisted ``attempt`` as pending with its idempotency key; only
    the plugin that registered ``provider`` is called.

    :param invoice: The invoice to collect; charge ``attempt.amount``.
    :param provider: The name of the payment provider to use (one of yours).
    :param attempt: The payment attempt; send ``attempt.idempotency_key`` to the
        provider so that a repeated call cannot charge twice.
    :param vendor: The vendor being paid.
    :param customer: The customer being charged.
    :param context: This plugin's :class:`~octane.core.plugin_context.PluginContext`
        in the running Octane: its config block, the data folder, the document store,
        and ``state`` for clients or pools it keeps between calls.
    :return: A :class:`~octane.core.contracts.PaymentResult`: ``succeeded``,
        ``pending`` (the outcome arrives later), ``failed`` with a neutral
        :class:`~octane.core.contracts.FailureCode`, or ``unknown`` when the
        provider's answer was lost or ambiguous (timeout, 5xx): the core then
        calls ``reconcile_payment`` and never blindly charges again.

    Must never: move money anywhere else than in this hook, charge an amount
    other than ``attempt.amount``, store card data, or raise for a decline
    (return ``failed``; an exception is treated as ``unknown``).
    """


@hookspec
def reconcile_payment(
    provider: str,
    attempt: AttemptView,
    vendor: VendorView,
    customer: CustomerView,
    context: PluginContext,
) -> PaymentResult | Awaitable[PaymentResult]:
    """Find out what happened to a payment attempt whose outcome is unknown.

    Called by the reconciliation job for attempts left ``unknown`` or
    ``pending`` for too long. Only the plugin owning ``provider`` is called.

    :param provider: The name of the payment provider the attempt went to.
    :param attempt: The attempt to look up, by its id or idempotency key.
    :param vendor: The vendor being paid.
    :param customer: The customer who was (perhaps) charged.
    :param context: This plugin's :class:`~octane.core.plugin_context.PluginContext`
        in the running Octane: its config block, the data folder, the document store,
        and ``state`` for clients or pools it keeps between calls.
    :return: A :class:`~octane.core.contracts.PaymentResult` saying what the
        provider recorded: ``succeeded``, ``failed``, ``pending``, or
        ``unknown`` if it still cannot tell (the core asks again later). If the
        provider has no record of the attempt, return ``failed`` with code
        ``provider_error``: the core may then retry with a new attempt.

    Must never: create a new charge. This hook only looks.
    """


# ---------------------------------------------------------------------------
# Service hooks (the first plugin that answers provides the service)
# ---------------------------------------------------------------------------


@hookspec
def render_invoice_pdf(
    invoice: InvoiceView, draft: bool, context: PluginContext
) -> bytes | Awaitable[bytes] | None:
    """Render an invoice as a PDF document.

    Called when an invoice's PDF is asked for (``GET /api/v1/invoices/{id}/pdf``,
    a delivery channel attaching it, a portal preview) and none is stored yet. For
    a finalized invoice the core stores the first rendering and serves that copy
    ever after; a draft is rendered on every request and never stored. Plugins are
    asked in name order and the first answer that is not None is used.

    :param invoice: The invoice with its lines and totals; for a draft, the figures
        recomputed now and ``number`` None.
    :param draft: True for a draft under review: mark every page DRAFT.
    :param context: This plugin's :class:`~octane.core.plugin_context.PluginContext`
        in the running Octane: its config block, the data folder, the document store,
        and ``state`` for clients or pools it keeps between calls.
    :return: The PDF's bytes, or None if this plugin does not render PDFs.

    Must never: change the invoice, or render anything but what ``invoice`` says
    (the stored copy is the legal document).
    """


# ---------------------------------------------------------------------------
# Registration hooks (called once at start-up)
# ---------------------------------------------------------------------------


@hookspec
def register_payment_providers() -> Sequence[PaymentProviderInfo] | None:
    """Declare the payment providers this plugin implements.

    Called once at start-up. A provider name is global: two plugins declaring the
    same name stop start-up with an error naming both.

    :return: A list of :class:`~octane.core.contracts.PaymentProviderInfo`; the
        vendor chooses one in its invoice settings, and ``collect_payment`` /
        ``reconcile_payment`` are then called on this plugin for it.

    Must never: perform I/O or contact the provider at start-up.
    """


@hookspec
def register_delivery_channels() -> Sequence[DeliveryChannelInfo] | None:
    """Declare the invoice delivery channels this plugin implements.

    Called once at start-up. Channel names are global, like provider names.

    :return: A list of :class:`~octane.core.contracts.DeliveryChannelInfo`;
        ``deliver_invoice`` is called on this plugin for those channels.

    Must never: perform I/O at start-up.
    """


@hookspec
def register_settings_panels() -> Sequence[SettingsPanel] | None:
    """Contribute settings panels to the portal (e.g. "Connect with Stripe").

    Called once at start-up. Each panel's template is looked up in the plugin's
    template folders (``register_template_dirs``), under a folder named after the
    plugin.

    :return: A list of :class:`~octane.core.contracts.SettingsPanel`.

    Must never: render HTML here; the portal renders the template when shown.
    """


@hookspec
def register_routes() -> Sequence[Any] | None:
    """Contribute HTTP routes: webhooks, OAuth callbacks, portal pages.

    Called once when the web app is built.

    :return: A list of Litestar route handlers or routers. Paths must live under
        ``/webhooks/<plugin name>`` (provider callbacks) or
        ``/portal/plugins/<plugin name>`` (portal pages). Portal pages are served
        behind the portal's session guard and CSRF check, and may take a ``portal``
        argument (``octane.web.portal.session.Portal``: the vendor, its clock, the
        user); state-changing ones get the CSRF token from the page's ``csrf_token``.

    Must never: do slow work inside a webhook request (verify it, record the
    event id once, enqueue a job, answer 2xx), or skip signature verification.
    """


@hookspec
def register_jobs() -> Sequence[JobSpec] | None:
    """Contribute background jobs to the SAQ worker.

    Called once when a worker starts.

    :return: A list of :class:`~octane.core.contracts.JobSpec` whose names start
        with ``<plugin name>:``. Jobs run at least once and maybe twice: make
        them idempotent (a database unique constraint or a guarded update).

    Must never: assume a job runs exactly once.
    """


@hookspec
def register_template_dirs() -> Sequence[Path] | None:
    """Contribute folders of Jinja2 templates (portal panels, invoice layouts, emails).

    Called once at start-up. Put your templates in a sub-folder named after your
    plugin (``templates/<plugin name>/...``) so names cannot clash. The vendor's
    own template folder comes first, so a vendor can override any template.

    :return: A list of folder paths.

    Must never: return a folder that contains another plugin's namespace.
    """


@hookspec(firstresult=True)
def plugin_config_schema() -> type[Any] | None:
    """Describe this plugin's configuration block, ``[plugins.<name>]`` in octane.toml.

    Called for one plugin at a time when the configuration is validated. The
    block is decoded into the returned ``msgspec.Struct`` type (unknown keys and
    wrong types stop start-up with a message naming ``plugins.<name>.<key>``);
    ``{"$env": "NAME"}`` placeholders are resolved first.

    :return: A ``msgspec.Struct`` subclass, or None if the plugin takes no config.

    This hook is firstresult: only one value is used. Must never: read secrets
    from anywhere but the validated block.
    """


@hookspec
def check_compatibility() -> Sequence[str] | None:
    """Report why this plugin cannot work in this installation.

    Called once at start-up and by ``octane plugins``. A plugin with errors is
    listed as incompatible; enabling it stops start-up with the errors.

    :return: A list of human sentences (e.g. "The package 'stripe' is not
        installed: pip install 'octane-billing[stripe]'"), empty if all is well.

    Must never: raise; report the problem instead.
    """

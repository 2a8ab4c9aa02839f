"""A loopback fake of the parts of Stripe's current v1 API that Regia calls.

Follows the API reference: form-encoded parameters with bracketed nesting
(``metadata[regia_invoice_id]=…``, ``address[line1]=…``), bearer secret keys, response
objects with ``id``/``object``/``livemode``/``created``, error objects
``{"error": {"type", "code", "message", "param"}}``, and idempotency as Stripe documents it:
the first response to an ``Idempotency-Key`` (success or error, once the endpoint ran) is
saved and replayed with ``Idempotent-Replayed: true``; the same key with other parameters or
another endpoint is a 400 ``idempotency_error``; a request that fails validation is not saved.

Endpoints: POST /v1/customers, /v1/invoiceitems, /v1/invoices, /v1/invoices/{id}/finalize,
/v1/invoices/{id}/send; GET /v1/customers/{id}, /v1/invoices/{id}. ``sign()`` signs webhook
payloads with Stripe's scheme (``t=…,v1=HMAC-SHA256(t.payload)``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import time
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.base import FakeService, Request, route

API_KEY = "rk_test_51RegiaFake0123456789abcdef"
WEBHOOK_SECRET = "whsec_RegiaFake0123456789abcdef"
DAY = 86_400


def decode_form(body: bytes) -> dict[str, Any]:
    """``a[b][c]=1&l[0]=x`` → ``{"a": {"b": {"c": "1"}}, "l": {"0": "x"}}`` (Stripe's nesting)."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def error(status: int, kind: str, message: str, *, code: str | None = None, param=None):  # noqa: ANN001, ANN201
    body: dict[str, Any] = {"type": kind, "message": message}
    if code:
        body["code"] = code
    if param:
        body["param"] = param
    return status, {"error": body}


def sign(payload: bytes | str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends with a webhook."""
    raw = payload.encode() if isinstance(payload, str) else payload
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


class FakeStripe(FakeService):
    def __init__(self, api_keys: tuple[str, ...] = (API_KEY,)) -> None:
        super().__init__()
        self.api_keys = set(api_keys)
        self.customers: dict[str, dict] = {}
        self.items: dict[str, dict] = {}
        self.invoices: dict[str, dict] = {}
        self.sent: list[str] = []  # invoice ids, once per /send that ran
        self._ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self._idempotent: dict[tuple[str, str], tuple[str, dict, int, Any]] = {}

    def reset(self) -> None:
        """Forget every object, key and request (module-scoped fakes, per-test state)."""
        with self.lock:
            self.customers.clear()
            self.items.clear()
            self.invoices.clear()
            self.sent.clear()
            self.requests.clear()
            self._idempotent.clear()
            self._faults.clear()

    # -- plumbing --------------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):08d}"

    def _authorized(self, request: Request) -> bool:
        header = request.header("authorization") or ""
        return header.startswith("Bearer ") and header[7:] in self.api_keys

    def _run(self, request: Request, handler) -> tuple:  # noqa: ANN001
        """Auth, then idempotency around ``handler(params)`` (which may return a 4xx early)."""
        if not self._authorized(request):
            return error(
                401, "invalid_request_error", "Invalid API Key provided.", code="api_key_invalid"
            )
        params = decode_form(request.body)
        key = request.header("idempotency-key")
        if key and request.method == "POST":
            api_key = (request.header("authorization") or "")[7:]
            with self.lock:
                saved = self._idempotent.get((api_key, key))
                if saved is not None:
                    path, saved_params, status, body = saved
                    if path != request.path or saved_params != params:
                        return error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.",
                        )
                    return status, body, {"Idempotent-Replayed": "true"}
                status, body = handler(request, params)
                if status != 400:  # a request that failed validation is not saved
                    self._idempotent[(api_key, key)] = (request.path, params, status, body)
                return status, body, {"Idempotency-Key": key}
        with self.lock:
            return handler(request, params)

    def not_found(self, request: Request) -> tuple[int, Any]:
        return error(
            404,
            "invalid_request_error",
            f"Unrecognized request URL ({request.method}: {request.path}).",
        )

    # -- customers -------------------------------------------------------------------------
    @route("POST", "/v1/customers")
    def create_customer(self, request: Request):  # noqa: ANN201
        return self._run(request, self._create_customer)

    def _create_customer(self, request: Request, params: dict) -> tuple[int, dict]:
        customer = {
            "id": self._id("cus"),
            "object": "customer",
            "address": params.get("address"),
            "created": int(time.time()),
            "currency": None,
            "description": params.get("description"),
            "email": params.get("email"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "name": params.get("name"),
            "preferred_locales": list(params.get("preferred_locales", {}).values()),
            "tax_exempt": "none",
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    @route("GET", "/v1/customers/{id}")
    def get_customer(self, request: Request):  # noqa: ANN201
        def read(request: Request, params: dict) -> tuple[int, dict]:
            found = self.customers.get(request.params["id"])
            if found is None:
                return self._missing("customer", request.params["id"])
            return 200, found

        return self._run(request, read)

    # -- invoice items ---------------------------------------------------------------------
    @route("POST", "/v1/invoiceitems")
    def create_invoice_item(self, request: Request):  # noqa: ANN201
        return self._run(request, self._create_item)

    def _create_item(self, request: Request, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if not customer:
            return error(
                400,
                "invalid_request_error",
                "Missing required param: customer.",
                code="parameter_missing",
                param="customer",
            )
        if customer not in self.customers:
            return self._missing("customer", customer, param="customer")
        invoice_id = params.get("invoice")
        invoice = self.invoices.get(invoice_id) if invoice_id else None
        if invoice_id and invoice is None:
            return self._missing("invoice", invoice_id, param="invoice")
        if invoice is not None and invoice["status"] != "draft":
            return error(
                400,
                "invalid_request_error",
                "You can only add invoice items to draft invoices.",
                code="invoice_not_editable",
                param="invoice",
            )
        if "amount" not in params:
            return error(
                400,
                "invalid_request_error",
                "Missing required param: amount.",
                code="parameter_missing",
                param="amount",
            )
        currency = (params.get("currency") or "").lower()
        item = {
            "id": self._id("ii"),
            "object": "invoiceitem",
            "amount": int(params["amount"]),
            "currency": currency,
            "customer": customer,
            "date": int(time.time()),
            "description": params.get("description"),
            "discountable": True,
            "invoice": invoice_id,
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "quantity": int(params.get("quantity", 1)),
        }
        self.items[item["id"]] = item
        if invoice is not None:
            self._add_line(invoice, item)
        return 200, item

    # -- invoices --------------------------------------------------------------------------
    @route("POST", "/v1/invoices")
    def create_invoice(self, request: Request):  # noqa: ANN201
        return self._run(request, self._create_invoice)

    def _create_invoice(self, request: Request, params: dict) -> tuple[int, dict]:
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", customer or "", param="customer")
        method = params.get("collection_method", "charge_automatically")
        if (
            method == "send_invoice"
            and "days_until_due" not in params
            and "due_date" not in (params)
        ):
            return error(
                400,
                "invalid_request_error",
                "Invoices with collection_method=send_invoice need days_until_due or due_date.",
                code="parameter_missing",
                param="days_until_due",
            )
        now = int(time.time())
        invoice = {
            "id": self._id("in"),
            "object": "invoice",
            "amount_due": 0,
            "amount_paid": 0,
            "amount_remaining": 0,
            "auto_advance": params.get("auto_advance", "true") == "true",
            "collection_method": method,
            "created": now,
            "currency": (params.get("currency") or "eur").lower(),
            "customer": customer,
            "days_until_due": int(params["days_until_due"]) if "days_until_due" in params else None,
            "description": params.get("description"),
            "due_date": None,
            "footer": params.get("footer"),
            "hosted_invoice_url": None,
            "invoice_pdf": None,
            "lines": {"object": "list", "data": [], "has_more": False, "url": ""},
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "number": None,
            "status": "draft",
            "subtotal": 0,
            "total": 0,
        }
        invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
        self.invoices[invoice["id"]] = invoice
        return 200, invoice

    def _add_line(self, invoice: dict, item: dict) -> None:
        invoice["lines"]["data"].append(
            {
                "id": f"il_{item['id']}",
                "object": "line_item",
                "amount": item["amount"],
                "currency": item["currency"],
                "description": item["description"],
                "invoice": invoice["id"],
                "quantity": item["quantity"],
            }
        )
        total = sum(line["amount"] for line in invoice["lines"]["data"])
        invoice.update(subtotal=total, total=total, amount_due=total, amount_remaining=total)

    @route("GET", "/v1/invoices/{id}")
    def get_invoice(self, request: Request):  # noqa: ANN201
        def read(request: Request, params: dict) -> tuple[int, dict]:
            found = self.invoices.get(request.params["id"])
            return (200, found) if found else self._missing("invoice", request.params["id"])

        return self._run(request, read)

    @route("POST", "/v1/invoices/{id}/finalize")
    def finalize_invoice(self, request: Request):  # noqa: ANN201
        def finalize(request: Request, params: dict) -> tuple[int, dict]:
            invoice = self.invoices.get(request.params["id"])
            if invoice is None:
                return self._missing("invoice", request.params["id"])
            if invoice["status"] != "draft":
                return error(
                    400,
                    "invalid_request_error",
                    "This invoice is already finalized.",
                    code="invoice_not_editable",
                )
            now = int(time.time())
            invoice.update(
                status="open",
                number=f"FAKE-{next(self._numbers):04d}",
                status_transitions={"finalized_at": now},
                hosted_invoice_url=f"{self.url}/i/{invoice['id']}",
                invoice_pdf=f"{self.url}/i/{invoice['id']}/pdf",
            )
            if invoice["collection_method"] == "send_invoice" and invoice["days_until_due"]:
                invoice["due_date"] = now + invoice["days_until_due"] * DAY
            return 200, invoice

        return self._run(request, finalize)

    @route("POST", "/v1/invoices/{id}/send")
    def send_invoice(self, request: Request):  # noqa: ANN201
        def send(request: Request, params: dict) -> tuple[int, dict]:
            invoice = self.invoices.get(request.params["id"])
            if invoice is None:
                return self._missing("invoice", request.params["id"])
            if invoice["collection_method"] != "send_invoice" or invoice["status"] != "open":
                return error(
                    400,
                    "invalid_request_error",
                    "You can only manually send an invoice if its collection method is "
                    "'send_invoice' and it is open.",
                    code="invoice_not_editable",
                )
            self.sent.append(invoice["id"])
            return 200, invoice

        return self._run(request, send)

    def _missing(self, kind: str, ident: str, param: str = "id") -> tuple[int, dict]:
        return error(
            404,
            "invalid_request_error",
            f"No such {kind}: '{ident}'",
            code="resource_missing",
            param=param,
        )

    # -- events ----------------------------------------------------------------------------
    def event(self, kind: str, invoice_id: str, *, created: int | None = None, **changes) -> dict:
        """An ``invoice.*`` event carrying a snapshot of the invoice (with ``changes``)."""
        snapshot = json.loads(json.dumps(self.invoices[invoice_id]))
        snapshot.update(changes)
        return {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2026-10-28.endive",
            "created": int(time.time()) if created is None else created,
            "data": {"object": snapshot},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
        }

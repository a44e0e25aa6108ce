#!/usr/bin/env python3
"""Fake Twilio Programmable Messaging speaking the documented wire protocol:
Messages.json create and list (HTTP Basic auth, form bodies, Twilio JSON
errors) and signed StatusCallback POSTs. See docs/channels-design.md §4.

    python3 tests/channels/fake_twilio.py --log FILE --account-sid AC... \
        --auth-token TOKEN [--port 0] [--invalid-prefix P]
        [--undeliverable-prefix P] [--transient-every N] [--lossy-every N]
        [--callbacks] [--callback-sent] [--delay-ms MS] [--retry-after S]

Prints `listening on <port>` when ready. Like the real API it does NOT
de-duplicate message creation (§1.2: error 20500). Log lines (JSONL):
    {"action":"Messages.create","sid","to","from","messaging_service_sid",
     "body","status_callback","at"}
    {"action":"StatusCallback","sid","message_status","error_code","url",
     "http_status","at"}          (http_status null: no HTTP answer, see "error")
"""

import argparse
import base64
import datetime as dt
import email.utils
import hmac
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fakeutil  # noqa: E402
import signing  # noqa: E402

API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
MESSAGE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/(SM[0-9a-f]{32})\.json$")
UNDELIVERED_ERROR = 30003  # "Unreachable destination handset"
MAX_BODY_CHARS = 1600


def twilio_error(code: int, message: str, status: int) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def rfc2822(when: dt.datetime) -> str:
    """Twilio's date format: `Sat, 05 Dec 2026 08:00:00 +0000`."""
    return email.utils.format_datetime(when)


class Account:
    def __init__(self, args):
        self.args = args
        self.log = fakeutil.JsonlLog(args.log)
        self.lock = threading.Lock()
        self.creates = 0  # authenticated create calls (for --transient-every)
        self.accepted = 0  # accepted messages (for --lossy-every)
        self.messages: list[dict] = []  # in creation order
        self.by_sid: dict[str, dict] = {}
        for rec in fakeutil.read_jsonl(args.log):  # a restarted fake keeps its history
            if rec.get("action") == "Messages.create":
                self._remember(rec)
        basic = f"{args.account_sid}:{args.auth_token}".encode("utf-8")
        self.expected_auth = "Basic " + base64.b64encode(basic).decode("ascii")
        self.callbacks = fakeutil.BackgroundWorkers(self._post_callback, threads=4) if args.callbacks else None

    def _remember(self, rec: dict):
        rec = dict(rec, _at=fakeutil.parse_iso(rec["at"]))
        self.messages.append(rec)
        self.by_sid[rec["sid"]] = rec

    def undeliverable(self, to: str) -> bool:
        p = self.args.undeliverable_prefix
        return bool(p) and to.startswith(p)

    def resource(self, rec: dict, *, created: bool) -> dict:
        """A Message resource. Just created it is `queued` with no date_sent (as
        the real 201 reply); afterwards the fake is consistent: the message has
        been sent and delivered (or undelivered for --undeliverable-prefix)."""
        sid = rec["sid"]
        account = self.args.account_sid
        uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}.json"
        failed = self.undeliverable(rec["to"])
        date = rfc2822(rec["_at"])
        return {
            "account_sid": account,
            "api_version": API_VERSION,
            "body": rec["body"],
            "date_created": date,
            "date_sent": None if created else date,
            "date_updated": date,
            "direction": "outbound-api",
            "error_code": UNDELIVERED_ERROR if failed and not created else None,
            "error_message": None,
            "from": rec["from"],
            "messaging_service_sid": rec["messaging_service_sid"],
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if created else ("undelivered" if failed else "delivered"),
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": rec["to"],
            "uri": uri,
        }

    # -- status callbacks (§4.2) ----------------------------------------------

    def queue_callbacks(self, rec: dict):
        if not self.callbacks or not rec["status_callback"]:
            return
        # No callback for the initial `queued` status (§4.2).
        statuses = ["sent"] if self.args.callback_sent else []
        statuses.append("undelivered" if self.undeliverable(rec["to"]) else "delivered")
        self.callbacks.put((rec, statuses))

    def _post_callback(self, item, _queue):
        rec, statuses = item
        url = rec["status_callback"]
        for status in statuses:
            params = [
                ("AccountSid", self.args.account_sid),
                ("ApiVersion", API_VERSION),
                ("From", rec["from"] or ""),
                ("MessageSid", rec["sid"]),
                ("MessageStatus", status),
                ("SmsSid", rec["sid"]),
                ("SmsStatus", status),
                ("To", rec["to"]),
            ]
            if rec["messaging_service_sid"]:
                params.append(("MessagingServiceSid", rec["messaging_service_sid"]))
            error_code = UNDELIVERED_ERROR if status == "undelivered" else None
            if error_code:
                params.append(("ErrorCode", str(error_code)))
            headers = {
                "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                # Signed over the URL exactly as called and every parameter sent.
                "X-Twilio-Signature": signing.twilio_signature(self.args.auth_token, url, params),
                "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
                "User-Agent": "TwilioProxy/1.1",
            }
            body = urllib.parse.urlencode(params).encode("ascii")
            # Twilio does not retry a failed status callback by default.
            http_status, _, error = fakeutil.http_post(url, body, headers)
            line = {
                "action": "StatusCallback",
                "sid": rec["sid"],
                "message_status": status,
                "error_code": error_code,
                "url": url,
                "http_status": http_status,
                "at": fakeutil.now_iso(),
            }
            if error:
                line["error"] = error
            self.log.write(line)


class Handler(fakeutil.QuietHandler):
    account: Account  # set on the class in main()

    def error(self, code: int, message: str, status: int, headers=None):
        self.reply_json(status, twilio_error(code, message, status), headers)

    def _authenticate(self, path_sid: str) -> bool:
        auth = self.headers.get("Authorization", "")
        if not hmac.compare_digest(auth.encode(), self.account.expected_auth.encode()):
            self.error(20003, "Authenticate", 401, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
            return False
        if path_sid != self.account.args.account_sid:
            self.error(20404, f"The requested resource {self.path.split('?')[0]} was not found", 404)
            return False
        return True

    def do_POST(self):
        self.guarded(self._post)

    def do_GET(self):
        self.guarded(self._get)

    # --- create (§4.1) ---------------------------------------------------------

    def _post(self):
        body = self.read_body()
        path = self.path.partition("?")[0]
        m = MESSAGES.match(path)
        if not m:
            return self.error(20404, f"The requested resource {path} was not found", 404)
        if not self._authenticate(m.group(1)):
            return
        acc = self.account
        args = acc.args
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        to = form.get("To", "")
        sender = form.get("From") or None
        service = form.get("MessagingServiceSid") or None
        text = form.get("Body", "")
        with acc.lock:
            acc.creates += 1
            call_no = acc.creates
        if not to:
            return self.error(21604, "A 'To' phone number is required.", 400)
        if not E164.match(to) or (args.invalid_prefix and to.startswith(args.invalid_prefix)):
            return self.error(21211, f"Invalid 'To' Phone Number: {to}", 400)
        if not sender and not service:
            return self.error(21603, "A 'From' phone number is required.", 400)
        if not text:
            return self.error(21602, "Message body is required.", 400)
        if len(text) > MAX_BODY_CHARS:
            return self.error(21617, "The concatenated message body exceeds the 1600 character limit.", 400)
        if args.transient_every and call_no % args.transient_every == 0:
            headers = {"Retry-After": str(args.retry_after)} if args.retry_after is not None else None
            return self.error(20429, "Too Many Requests", 429, headers)

        now = dt.datetime.now(dt.timezone.utc)
        with acc.lock:
            acc.accepted += 1
            lossy = bool(args.lossy_every) and acc.accepted % args.lossy_every == 0
            rec = {
                "action": "Messages.create",
                "sid": "SM" + uuid.uuid4().hex,
                "to": to,
                "from": sender,
                "messaging_service_sid": service,
                "body": text,
                "status_callback": form.get("StatusCallback") or None,
                "at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            acc.log.write(rec)  # logged before any answer: Twilio has it
            acc._remember(rec)
            rec = acc.by_sid[rec["sid"]]
        acc.queue_callbacks(rec)
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000.0)
        if lossy:
            return self.drop_connection()
        self.reply_json(201, acc.resource(rec, created=True))

    # --- list (§4.3) and fetch ---------------------------------------------------

    def _get(self):
        self.read_body()
        path, _, query = self.path.partition("?")
        one = MESSAGE.match(path)
        m = one or MESSAGES.match(path)
        if not m:
            return self.error(20404, f"The requested resource {path} was not found", 404)
        if not self._authenticate(m.group(1)):
            return
        acc = self.account
        if one:
            with acc.lock:
                rec = acc.by_sid.get(one.group(2))
            if rec is None:
                return self.error(20404, f"The requested resource {path} was not found", 404)
            return self.reply_json(200, acc.resource(rec, created=False))

        # Form decoding: `DateSent>=2026-12-06` is the key "DateSent>" with the
        # value 2026-12-06, and `%2B1555...` decodes to +1555...
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        try:
            filters = [_date_filter(k, q[k]) for k in ("DateSent", "DateSent<", "DateSent>") if q.get(k)]
            page_size = int(q.get("PageSize", 50))
            page = int(q.get("Page", 0))
        except ValueError as e:
            return self.error(20001, f"Invalid parameter: {e}", 400)
        if not 1 <= page_size <= 1000 or page < 0:
            return self.error(20001, "PageSize is 1-1000 and Page >= 0", 400)
        with acc.lock:
            found = [
                r
                for r in reversed(acc.messages)  # newest first, as Twilio lists
                if (not q.get("To") or r["to"] == q["To"])
                and (not q.get("From") or r["from"] == q["From"])
                and all(f(r["_at"]) for f in filters)
            ]
        start = page * page_size
        chunk = found[start : start + page_size]
        base = f"/{API_VERSION}/Accounts/{acc.args.account_sid}/Messages.json"
        keep = [(k, v) for k, v in q.items() if k not in ("Page", "PageSize", "PageToken")]

        def page_uri(n):
            return base + "?" + urllib.parse.urlencode(keep + [("PageSize", page_size), ("Page", n)])

        self.reply_json(
            200,
            {
                "messages": [acc.resource(r, created=False) for r in chunk],
                "page": page,
                "page_size": page_size,
                "start": start,
                "end": start + max(len(chunk) - 1, 0),
                "uri": page_uri(page),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if start + page_size < len(found) else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            },
        )


def _date_filter(key: str, value: str):
    """DateSent=D: sent on day D (UTC). DateSent>=D: on or after D's midnight;
    DateSent<=D: on or before day D. A full timestamp compares the instant."""
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        if key == "DateSent":
            return lambda at: at.date() == day
        if key == "DateSent>":
            return lambda at: at.date() >= day
        return lambda at: at.date() <= day
    when = fakeutil.parse_iso(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    if key == "DateSent":
        return lambda at: at == when
    if key == "DateSent>":
        return lambda at: at >= when
    return lambda at: at <= when


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", required=True, help="JSONL log file (appended)")
    ap.add_argument("--account-sid", required=True)
    ap.add_argument("--auth-token", required=True)
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument("--invalid-prefix", default="", help="To numbers refused with 400/21211")
    ap.add_argument("--undeliverable-prefix", default="", help="To numbers accepted but reported undelivered (30003)")
    ap.add_argument("--transient-every", type=fakeutil.positive_int, default=0, help="every Nth create answers 429/20429")
    ap.add_argument("--lossy-every", type=fakeutil.positive_int, default=0, help="every Nth accepted create is logged, then the connection closed unanswered")
    ap.add_argument("--callbacks", action="store_true", help="POST signed status callbacks to each StatusCallback URL")
    ap.add_argument("--callback-sent", action="store_true", help="also POST a `sent` callback before the final one")
    ap.add_argument("--delay-ms", type=int, default=0, help="sleep before answering a create")
    ap.add_argument("--retry-after", type=int, default=None, help="Retry-After seconds on the 429 (default: no header)")
    args = ap.parse_args(argv)
    if not re.match(r"^AC[0-9a-zA-Z]+$", args.account_sid):
        ap.error("--account-sid starts with AC")

    Handler.account = Account(args)
    server = fakeutil.FakeServer(("127.0.0.1", args.port), Handler)
    fakeutil.serve(server, on_exit=Handler.account.log.close)


if __name__ == "__main__":
    main()

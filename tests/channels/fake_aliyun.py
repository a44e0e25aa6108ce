#!/usr/bin/env python3
"""Fake Alibaba Cloud SMS (dysmsapi 2017-05-25) speaking the documented wire
protocol: RPC-style POST with the V3 signature (ACS3-HMAC-SHA256), SendSms,
QuerySendDetails and SmsReport receipt pushes. See docs/channels-design.md §3.

    python3 tests/channels/fake_aliyun.py --log FILE --access-key-id AK \
        --access-key-secret SECRET [--port 0] [--receipts URL]
        [--invalid-prefix P] [--undeliverable-prefix P] [--transient-every N]
        [--lossy-every N] [--delay-ms MS] [--max-skew-s S] [--utc-offset-hours H]
        [--retry-pauses 1,2,3]

Prints `listening on <port>` when ready. Like the real service it does NOT
de-duplicate: a repeated SendSms with the same OutId is accepted and logged again
(§1.2). Log lines (JSONL, one per event):
    {"action":"SendSms","out_id","phone","sign_name","template_code",
     "template_param","biz_id","at"}
    {"action":"SmsReport","out_id","biz_id","success","status","attempt","at"}
"""

import argparse
import datetime as dt
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fakeutil  # noqa: E402
import signing  # noqa: E402

API_VERSION = "2017-05-25"
# Every header §3.1 shows must be present and signed.
REQUIRED_SIGNED = {
    "host",
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
}
DATE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PHONE = re.compile(r"^\+?\d{5,20}$")
UNDELIVERABLE_ERR = "MK:0001"  # any non-DELIVERED operator code; this one is common


class Sms:
    """The provider's state: counters, seen nonces, sent messages by phone."""

    def __init__(self, args):
        self.args = args
        self.log = fakeutil.JsonlLog(args.log)
        self.lock = threading.Lock()
        self.nonces: set[str] = set()
        self.send_calls = 0  # signature-valid SendSms calls (for --transient-every)
        self.accepted = 0  # accepted sends (for --lossy-every)
        self.seq = 0
        # BizIds are unique digits: a random prefix per process, then a counter,
        # so a restarted fake appending to the same log never repeats one.
        self.biz_prefix = str(secrets.randbelow(900000) + 100000)
        self.by_phone: dict[str, list[dict]] = {}
        self.local_tz = dt.timezone(dt.timedelta(hours=args.utc_offset_hours))
        # A restarted fake still knows what it sent (the real provider's records persist).
        for rec in fakeutil.read_jsonl(args.log):
            if rec.get("action") == "SendSms":
                rec = dict(rec, _at=fakeutil.parse_iso(rec["at"]))
                self.by_phone.setdefault(rec["phone"], []).append(rec)
        self.receipts = (
            fakeutil.BackgroundWorkers(self._post_receipts) if args.receipts else None
        )

    def local(self, when: dt.datetime) -> dt.datetime:
        return when.astimezone(self.local_tz)

    def undeliverable(self, phone: str) -> bool:
        p = self.args.undeliverable_prefix
        return bool(p) and phone.startswith(p)

    # -- receipts (§3.4) --------------------------------------------------

    def _post_receipts(self, first, q):
        # Batch whatever queued up while the previous POST was in flight.
        batch = [first]
        while len(batch) < 100:
            try:
                batch.append(q.get_nowait())
            except Exception:
                break
        body = json.dumps(batch, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=utf-8"}
        # The real service retries after 1, 5 and 10 minutes, then drops the
        # batch; here the pauses are seconds (--retry-pauses).
        pauses = self.args.retry_pauses
        for attempt in range(len(pauses) + 1):
            status, reply, error = fakeutil.http_post(self.args.receipts, body, headers)
            ok = status == 200 and _code_is_number(reply)
            for r in batch:
                rec = {
                    "action": "SmsReport",
                    "out_id": r["out_id"],
                    "biz_id": r["biz_id"],
                    "success": r["success"],
                    "status": status,
                    "accepted": ok,
                    "attempt": attempt + 1,
                    "at": fakeutil.now_iso(),
                }
                if error:
                    rec["error"] = error
                self.log.write(rec)
            if ok or attempt == len(pauses):
                return
            time.sleep(pauses[attempt])

    def queue_receipt(self, rec: dict):
        if not self.receipts:
            return
        failed = self.undeliverable(rec["phone"])
        when = self.local(rec["_at"]).strftime("%Y-%m-%d %H:%M:%S")
        self.receipts.put(
            {
                "phone_number": rec["phone"],
                "send_time": when,
                "report_time": when,
                "success": not failed,
                "err_code": UNDELIVERABLE_ERR if failed else "DELIVERED",
                "err_msg": "用户接收失败" if failed else "用户接收成功",
                "sms_size": "1",
                "biz_id": rec["biz_id"],
                "out_id": rec["out_id"],
            }
        )


def _code_is_number(reply: bytes) -> bool:
    """§3.4: the pusher only checks that the reply's `code` is a number."""
    try:
        code = json.loads(reply.decode("utf-8")).get("code")
    except (ValueError, AttributeError):
        return False
    return isinstance(code, (int, float)) and not isinstance(code, bool)


def parse_query_strict(query: str) -> list[tuple[str, str]] | None:
    """Decodes %XX only: a '+' stays a literal '+' (it is not form encoding), so
    a client that writes a space as '+' fails the signature, as §3.2 warns."""
    params = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            params.append(
                (
                    urllib.parse.unquote(name, errors="strict"),
                    urllib.parse.unquote(value, errors="strict"),
                )
            )
        except UnicodeDecodeError:
            return None
    return params


class Handler(fakeutil.QuietHandler):
    sms: Sms  # set on the class in main()

    def error(self, http_status: int, code: str, message: str):
        self.reply_json(http_status, {"Code": code, "Message": message, "RequestId": _request_id()})

    def do_GET(self):
        self.guarded(self._get)

    def _get(self):
        self.read_body()
        self.error(404, "InvalidAction.NotFound", "RPC calls are POST /?...")

    def do_POST(self):
        self.guarded(self._post)

    def _post(self):
        sms = self.sms
        args = sms.args
        body = self.read_body()
        path, _, query = self.path.partition("?")
        if path != "/":
            return self.error(404, "InvalidAction.NotFound", f"no such path {path}")
        params = parse_query_strict(query)
        if params is None:
            return self.error(400, "InvalidParameter", "query string is not valid UTF-8")
        headers = {k.lower(): v for k, v in self.headers.items()}

        # --- authentication (§3.2) -----------------------------------------
        auth = signing.acs3_parse_authorization(headers.get("authorization", ""))
        if auth is None:
            return self.error(400, "IncompleteSignature", "Authorization is not ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=")
        if auth["Credential"] != args.access_key_id:
            return self.error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        signed = [n.strip().lower() for n in auth["SignedHeaders"].split(";") if n.strip()]
        missing = sorted(REQUIRED_SIGNED - set(signed))
        if missing:
            return self.error(400, "IncompleteSignature", f"headers not signed: {';'.join(missing)}")
        absent = [n for n in signed if n not in headers]
        if absent:
            return self.error(400, "IncompleteSignature", f"signed headers not sent: {';'.join(absent)}")
        if headers["x-acs-version"] != API_VERSION:
            return self.error(400, "InvalidVersion", f"Specified parameter Version is not valid (want {API_VERSION}).")
        date = headers["x-acs-date"].strip()
        if not DATE_FORMAT.match(date):
            return self.error(400, "InvalidTimeStamp.Format", "x-acs-date must be yyyy-MM-ddTHH:mm:ssZ (UTC)")
        if args.max_skew_s > 0:
            skew = abs(time.time() - dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())
            if skew > args.max_skew_s:
                return self.error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if headers["x-acs-content-sha256"].strip().lower() != signing.sha256_hex(body):
            return self.error(400, "InvalidParameter.ContentSHA256", "x-acs-content-sha256 is not the SHA-256 of the body")
        # The canonical request is rebuilt from the parsed parameters, not the
        # raw query text, exactly as the server side of §3.2 does.
        canonical = signing.acs3_canonical_request(self.command, "/", params, headers, signed, body)
        _, expected = signing.acs3_signature(args.access_key_secret, canonical)
        if not _consteq(expected, auth["Signature"].strip().lower()):
            return self.error(403, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        nonce = headers["x-acs-signature-nonce"].strip()
        with sms.lock:
            if nonce in sms.nonces:
                reused = True
            else:
                reused = False
                sms.nonces.add(nonce)
        if reused:
            return self.error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

        action = headers["x-acs-action"]
        p = dict(params)
        if action == "SendSms":
            return self._send_sms(p)
        if action == "QuerySendDetails":
            return self._query_send_details(p)
        return self.error(404, "InvalidAction.NotFound", f"Specified api is not found: {action}")

    # --- SendSms (§3.1) -------------------------------------------------------

    def _send_sms(self, p: dict):
        sms = self.sms
        args = sms.args
        for name in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not p.get(name):
                return self.error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        phone = p["PhoneNumbers"].strip()
        template_param = p.get("TemplateParam", "")
        with sms.lock:
            sms.send_calls += 1
            call_no = sms.send_calls
        if "," in phone:
            # The real API takes up to 1000; the dispatcher sends one (§3.1).
            return self._sms_reply({"Code": "isv.MOBILE_COUNT_OVER_LIMIT", "Message": "this fake takes one number per SendSms"})
        if not PHONE.match(phone) or (args.invalid_prefix and phone.startswith(args.invalid_prefix)):
            return self._sms_reply({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})
        if template_param and not _template_param_ok(template_param):
            return self._sms_reply({"Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法，只接受字符串值"})
        if args.transient_every and call_no % args.transient_every == 0:
            return self._sms_reply({"Code": "isp.SYSTEM_ERROR", "Message": "系统错误"})

        now = dt.datetime.now(dt.timezone.utc)
        with sms.lock:
            sms.seq += 1
            sms.accepted += 1
            biz_id = f"{sms.biz_prefix}{sms.seq:013d}"
            lossy = bool(args.lossy_every) and sms.accepted % args.lossy_every == 0
            rec = {
                "action": "SendSms",
                "out_id": p.get("OutId", ""),
                "phone": phone,
                "sign_name": p["SignName"],
                "template_code": p["TemplateCode"],
                "template_param": template_param,
                "biz_id": biz_id,
                "at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            # Logged before any answer: the message has reached the provider.
            sms.log.write(rec)
            rec = dict(rec, _at=now)
            sms.by_phone.setdefault(phone, []).append(rec)
        sms.queue_receipt(rec)
        if lossy:
            if args.delay_ms:
                time.sleep(args.delay_ms / 1000.0)
            return self.drop_connection()
        return self._sms_reply({"Code": "OK", "Message": "OK", "BizId": biz_id})

    def _sms_reply(self, obj: dict):
        # Business outcomes (OK or isv./isp. codes) are HTTP 200 with a Code.
        if self.sms.args.delay_ms:
            time.sleep(self.sms.args.delay_ms / 1000.0)
        obj["RequestId"] = _request_id()
        self.reply_json(200, obj)

    # --- QuerySendDetails (§3.3) ----------------------------------------------

    def _query_send_details(self, p: dict):
        sms = self.sms
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage"):
            if not p.get(name):
                return self.error(400, f"Missing{name}", f"{name} is mandatory for this action.")
        try:
            day = dt.datetime.strptime(p["SendDate"], "%Y%m%d").date()
            page_size = int(p["PageSize"])
            page = int(p["CurrentPage"])
        except ValueError:
            return self.reply_json(200, {"Code": "isv.INVALID_PARAMETERS", "Message": "SendDate is yyyyMMdd, PageSize and CurrentPage integers", "RequestId": _request_id()})
        if not 1 <= page_size <= 50 or page < 1:
            return self.reply_json(200, {"Code": "isv.INVALID_PARAMETERS", "Message": "PageSize is 1-50, CurrentPage >= 1", "RequestId": _request_id()})
        phone = p["PhoneNumber"].strip()
        biz_id = p.get("BizId")
        with sms.lock:
            found = [
                r
                for r in sms.by_phone.get(phone, [])
                if sms.local(r["_at"]).date() == day and (not biz_id or r["biz_id"] == biz_id)
            ]
        dtos = []
        for r in found[(page - 1) * page_size : page * page_size]:
            failed = sms.undeliverable(r["phone"])
            when = sms.local(r["_at"]).strftime("%Y-%m-%d %H:%M:%S")
            dtos.append(
                {
                    "OutId": r["out_id"],
                    "PhoneNum": r["phone"],
                    "SendStatus": 2 if failed else 3,
                    "ErrCode": UNDELIVERABLE_ERR if failed else "DELIVERED",
                    "TemplateCode": r["template_code"],
                    "Content": "",
                    "SendDate": when,
                    "ReceiveDate": when,
                }
            )
        self.reply_json(
            200,
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": _request_id(),
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": dtos},
            },
        )


def _template_param_ok(text: str) -> bool:
    """TemplateParam is a JSON object of string values ("只接受字符串值")."""
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _request_id() -> str:
    return str(uuid.uuid4()).upper()


def _consteq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", required=True, help="JSONL log file (appended)")
    ap.add_argument("--access-key-id", required=True)
    ap.add_argument("--access-key-secret", required=True)
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument("--receipts", help="URL to push SmsReport JSON arrays to")
    ap.add_argument("--invalid-prefix", default="", help="numbers refused with isv.MOBILE_NUMBER_ILLEGAL")
    ap.add_argument("--undeliverable-prefix", default="", help="numbers accepted but reported failed (SendStatus 2, success false)")
    ap.add_argument("--transient-every", type=fakeutil.positive_int, default=0, help="every Nth SendSms answers isp.SYSTEM_ERROR")
    ap.add_argument("--lossy-every", type=fakeutil.positive_int, default=0, help="every Nth accepted send is logged, then the connection closed unanswered")
    ap.add_argument("--delay-ms", type=int, default=0, help="sleep before answering a SendSms")
    ap.add_argument("--max-skew-s", type=int, default=900, help="refuse x-acs-date further than this from now (0 = no check)")
    ap.add_argument("--utc-offset-hours", type=float, default=8.0, help="the provider's clock for SendDate and report times (Beijing = 8)")
    ap.add_argument("--retry-pauses", type=fakeutil.pauses, default=[1.0, 2.0, 3.0], help="seconds between receipt retries, comma-separated")
    args = ap.parse_args(argv)

    Handler.sms = Sms(args)
    server = fakeutil.FakeServer(("127.0.0.1", args.port), Handler)
    fakeutil.serve(server, on_exit=Handler.sms.log.close)


if __name__ == "__main__":
    main()

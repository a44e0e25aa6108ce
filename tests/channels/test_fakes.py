#!/usr/bin/env python3
"""Self-test of the channel fakes: the signing helpers against the published
vectors of docs/channels-design.md, and each fake server started as a
subprocess and driven over its real wire protocol.

    python3 tests/channels/test_fakes.py        (standard library + aiosmtpd)
"""

import base64
import datetime as dt
import email.message
import http.client
import http.server
import json
import os
import re
import select
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import dedup_sink  # noqa: E402  (only its header reader; aiosmtpd is required anyway)
import signing  # noqa: E402

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
CST = dt.timezone(dt.timedelta(hours=8))


# --- helpers -------------------------------------------------------------------


def start_fake(script: str, *args: str) -> tuple[subprocess.Popen, int]:
    """Starts tests/channels/<script> and waits for its `listening on <port>`."""
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, script), *args],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    line = proc.stdout.readline() if ready else ""
    m = re.fullmatch(r"listening on (\d+)\n", line)
    if not m:
        proc.kill()
        raise AssertionError(f"{script} did not print its ready line, got {line!r}")
    return proc, int(m.group(1))


def stop(proc: subprocess.Popen):
    """SIGTERM must stop every fake cleanly (exit status 0)."""
    proc.terminate()
    try:
        code = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("fake did not stop on SIGTERM")
    if proc.stdout:
        proc.stdout.close()
    if code != 0:
        raise AssertionError(f"exit status {code} after SIGTERM, want 0")


def read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_until(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A small local HTTP server standing in for our receipt/callback endpoint.
    Records every request; answers the scripted statuses first, then 200."""

    def __init__(self, statuses=(), reply=b'{"code":0,"msg":"\xe6\x8e\xa5\xe6\x94\xb6\xe6\x88\x90\xe5\x8a\x9f"}'):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "answered": status})
                self.send_response(status)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- signatures against the published vectors ---------------------------------------


class SigningVectors(unittest.TestCase):
    def test_alibaba_acs3_runinstances_vector(self):
        # §3.2: Alibaba's fixed-parameter RunInstances example (POST, empty body).
        empty = signing.sha256_hex(b"")
        headers = {
            "host": "ecs.cn-shanghai.aliyuncs.com",
            "x-acs-action": "RunInstances",
            "x-acs-version": "2014-05-26",
            "x-acs-date": "2023-10-26T10:22:32Z",
            "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
            "x-acs-content-sha256": empty,
        }
        params = [("RegionId", "cn-shanghai"), ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd")]
        canonical = signing.acs3_canonical_request("POST", "/", params, headers, list(headers), b"")
        hashed, signature = signing.acs3_signature("YourAccessKeySecret", canonical)
        self.assertEqual(hashed, "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259")
        self.assertEqual(signature, "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")
        # The client helper produces the same signature.
        _, signed = signing.acs3_sign_rpc(
            "AK", "YourAccessKeySecret", action="RunInstances", version="2014-05-26",
            host="ecs.cn-shanghai.aliyuncs.com", params=params,
            date="2023-10-26T10:22:32Z", nonce="3156853299f313e23d1673dc12e1703d",
        )
        self.assertTrue(signed["authorization"].endswith("Signature=" + signature))

    def test_alibaba_percent_encoding(self):
        self.assertEqual(signing.acs3_percent_encode("a b*c~d+e/阿"), "a%20b%2Ac~d%2Be%2F%E9%98%BF")
        self.assertEqual(signing.acs3_canonical_query([("b", ""), ("a", "x y")]), "a=x%20y&b=")

    def test_twilio_vector(self):
        params = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        url = "https://mycompany.com/myapp.php?foo=1&bar=2"
        self.assertEqual(signing.twilio_signature("12345", url, params), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
        self.assertTrue(signing.twilio_signature_valid("12345", url, list(reversed(params)), "0/KCTR6DLpKmkAf8muzZqo1nDgQ="))
        self.assertFalse(signing.twilio_signature_valid("12346", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="))

    def test_dingtalk_vector(self):
        self.assertEqual(signing.dingtalk_sign("SECtest", 1700000000000), "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D")


# --- Alibaba ------------------------------------------------------------------------

AK, SECRET = "LTAItestkey", "testsecret"


def aliyun_call(port, action, params, *, ak=AK, secret=SECRET, nonce=None, edit=None, timeout=10):
    """One signed RPC call over a fresh connection. `edit(path, headers)` may
    tamper with the request after signing. Returns (status, json)."""
    path, headers = signing.acs3_sign_rpc(
        ak, secret, action=action, version="2017-05-25", host=f"127.0.0.1:{port}",
        params=params, date=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        nonce=nonce or uuid.uuid4().hex,
    )
    if edit:
        path, headers = edit(path, headers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=b"", headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def send_sms(port, out_id, phone="13912345678", **kw):
    params = [
        ("PhoneNumbers", phone),
        ("SignName", "阿里云短信测试"),
        ("TemplateCode", "SMS_153055065"),
        ("TemplateParam", json.dumps({"amount": "100.00", "ref": out_id})),
        ("OutId", out_id),
    ]
    return aliyun_call(port, "SendSms", params, **kw)


def sends(log_path, out_id):
    return [r for r in read_log(log_path) if r.get("action") == "SendSms" and r["out_id"] == out_id]


class AliyunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.log = os.path.join(cls.dir.name, "aliyun.jsonl")
        cls.proc, cls.port = start_fake(
            "fake_aliyun.py", "--log", cls.log, "--access-key-id", AK, "--access-key-secret", SECRET,
            "--invalid-prefix", "1390000", "--undeliverable-prefix", "1380000",
        )

    @classmethod
    def tearDownClass(cls):
        stop(cls.proc)
        cls.dir.cleanup()

    def test_signed_send_is_accepted_and_logged(self):
        status, body = send_sms(self.port, "A-1")
        self.assertEqual(status, 200)
        self.assertEqual((body["Code"], body["Message"]), ("OK", "OK"))
        self.assertRegex(body["BizId"], r"^\d+$")
        self.assertTrue(body["RequestId"])
        [line] = sends(self.log, "A-1")
        self.assertEqual(line["phone"], "13912345678")
        self.assertEqual(line["sign_name"], "阿里云短信测试")
        self.assertEqual(line["template_code"], "SMS_153055065")
        self.assertEqual(json.loads(line["template_param"]), {"amount": "100.00", "ref": "A-1"})
        self.assertEqual(line["biz_id"], body["BizId"])
        self.assertRegex(line["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_repeated_out_id_is_not_deduplicated(self):
        first = send_sms(self.port, "A-dup")[1]
        second = send_sms(self.port, "A-dup")[1]
        self.assertEqual((first["Code"], second["Code"]), ("OK", "OK"))
        self.assertNotEqual(first["BizId"], second["BizId"])
        self.assertEqual(len(sends(self.log, "A-dup")), 2)

    def test_tampered_request_is_refused_and_not_logged(self):
        def swap_number(path, headers):
            return path.replace("13912345678", "13912345679"), headers

        status, body = send_sms(self.port, "A-tamper", edit=swap_number)
        self.assertEqual(status, 403)
        self.assertEqual(body["Code"], "SignatureDoesNotMatch")
        self.assertEqual(sends(self.log, "A-tamper"), [])

    def test_plus_for_space_breaks_the_signature(self):
        # §3.2: the URL must carry the canonical query string; '+' is not a space.
        params = [("PhoneNumbers", "13912345678"), ("SignName", "Arrears Co"), ("TemplateCode", "SMS_1"), ("OutId", "A-plus")]

        def form_encode(path, headers):
            return path.replace("%20", "+"), headers

        self.assertEqual(aliyun_call(self.port, "SendSms", params, edit=form_encode)[0], 403)
        status, body = aliyun_call(self.port, "SendSms", params)
        self.assertEqual((status, body["Code"]), (200, "OK"))
        self.assertEqual(sends(self.log, "A-plus")[0]["sign_name"], "Arrears Co")

    def test_wrong_secret_and_wrong_key(self):
        status, body = send_sms(self.port, "A-secret", secret="not-the-secret")
        self.assertEqual((status, body["Code"]), (403, "SignatureDoesNotMatch"))
        status, body = send_sms(self.port, "A-key", ak="LTAIother")
        self.assertEqual((status, body["Code"]), (404, "InvalidAccessKeyId.NotFound"))
        self.assertEqual(sends(self.log, "A-secret") + sends(self.log, "A-key"), [])

    def test_content_hash_must_match_the_body(self):
        def bad_hash(path, headers):
            return path, dict(headers, **{"x-acs-content-sha256": signing.sha256_hex(b"x")})

        status, body = send_sms(self.port, "A-hash", edit=bad_hash)
        self.assertEqual(status, 400)
        self.assertEqual(sends(self.log, "A-hash"), [])

    def test_reused_nonce_is_refused(self):
        nonce = uuid.uuid4().hex
        self.assertEqual(send_sms(self.port, "A-nonce", nonce=nonce)[1]["Code"], "OK")
        status, body = send_sms(self.port, "A-nonce", nonce=nonce)
        self.assertEqual((status, body["Code"]), (400, "SignatureNonceUsed"))
        self.assertEqual(len(sends(self.log, "A-nonce")), 1)

    def test_invalid_number_gets_the_documented_error(self):
        status, body = send_sms(self.port, "A-bad", phone="13900001111")
        self.assertEqual(status, 200)
        self.assertEqual((body["Code"], body["Message"]), ("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号"))
        self.assertNotIn("BizId", body)
        self.assertEqual(sends(self.log, "A-bad"), [])

    def test_query_send_details_finds_the_out_id(self):
        phone = "13911110000"
        biz_id = send_sms(self.port, "A-query", phone=phone)[1]["BizId"]
        today = dt.datetime.now(CST).strftime("%Y%m%d")
        yesterday = (dt.datetime.now(CST) - dt.timedelta(days=1)).strftime("%Y%m%d")

        def query(day, **extra):
            params = [("PhoneNumber", phone), ("SendDate", day), ("PageSize", "10"), ("CurrentPage", "1")]
            params += list(extra.items())
            status, body = aliyun_call(self.port, "QuerySendDetails", params)
            self.assertEqual((status, body["Code"]), (200, "OK"))
            return body

        body = query(today)
        self.assertEqual(body["TotalCount"], 1)
        [dto] = body["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
        self.assertEqual((dto["OutId"], dto["PhoneNum"], dto["SendStatus"], dto["ErrCode"]), ("A-query", phone, 3, "DELIVERED"))
        self.assertRegex(dto["SendDate"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
        self.assertEqual(query(today, BizId=biz_id)["TotalCount"], 1)
        self.assertEqual(query(today, BizId="1")["TotalCount"], 0)
        self.assertEqual(query(yesterday)["TotalCount"], 0)

        # An --undeliverable-prefix number: accepted, then reported failed.
        phone = "13800001234"
        send_sms(self.port, "A-lost", phone=phone)
        [dto] = query(today)["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
        self.assertEqual((dto["OutId"], dto["SendStatus"]), ("A-lost", 2))
        self.assertNotEqual(dto["ErrCode"], "DELIVERED")


class AliyunModesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "aliyun.jsonl")
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            stop(proc)
        self.dir.cleanup()

    def fake(self, *extra):
        proc, port = start_fake("fake_aliyun.py", "--log", self.log, "--access-key-id", AK, "--access-key-secret", SECRET, *extra)
        self.procs.append(proc)
        return port

    def test_transient_and_lossy(self):
        port = self.fake("--transient-every", "3", "--lossy-every", "2")
        self.assertEqual(send_sms(port, "M-1")[1]["Code"], "OK")  # call 1, accepted 1
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            send_sms(port, "M-2")  # call 2, accepted 2: logged, no answer
        self.assertEqual(len(sends(self.log, "M-2")), 1)
        self.assertEqual(send_sms(port, "M-3")[1]["Code"], "isp.SYSTEM_ERROR")  # call 3
        self.assertEqual(sends(self.log, "M-3"), [])
        self.assertEqual(send_sms(port, "M-4")[1]["Code"], "OK")

    def test_delay_makes_the_client_time_out_after_logging(self):
        port = self.fake("--delay-ms", "600")
        with self.assertRaises((socket.timeout, TimeoutError)):
            send_sms(port, "D-1", timeout=0.2)
        self.assertEqual(len(sends(self.log, "D-1")), 1)

    def test_receipts_are_pushed_and_retried(self):
        receiver = Receiver(statuses=[500])
        try:
            port = self.fake("--receipts", receiver.url + "/receipts/aliyun/x", "--undeliverable-prefix", "1380000", "--retry-pauses", "0.2,0.2")
            ok_biz = send_sms(port, "R-ok")[1]["BizId"]
            send_sms(port, "R-fail", phone="13800005678")

            def reports():
                got = {}
                for req in receiver.requests:
                    if req["answered"] == 200:
                        for r in json.loads(req["body"]):
                            got[r["out_id"]] = r
                return got if {"R-ok", "R-fail"} <= got.keys() else None

            got = wait_until(reports)
            self.assertTrue(got, "both receipts delivered")
            self.assertEqual(receiver.requests[0]["path"], "/receipts/aliyun/x")
            self.assertTrue(receiver.requests[0]["headers"]["Content-Type"].startswith("application/json"))
            self.assertIsInstance(json.loads(receiver.requests[0]["body"]), list)
            self.assertEqual((got["R-ok"]["success"], got["R-ok"]["err_code"], got["R-ok"]["biz_id"]), (True, "DELIVERED", ok_biz))
            self.assertEqual((got["R-fail"]["success"], got["R-fail"]["err_code"]), (False, "MK:0001"))
            def logged_reports():
                pairs = [(r["out_id"], r["status"]) for r in read_log(self.log) if r["action"] == "SmsReport"]
                return pairs if ("R-ok", 200) in pairs and ("R-fail", 200) in pairs else None

            logged = wait_until(logged_reports)
            self.assertTrue(logged, "receipts logged")
            self.assertIn(("R-ok", 500), logged)  # the first push was refused...
            self.assertIn(("R-ok", 200), logged)  # ...and retried
            self.assertIn(("R-fail", 200), logged)
        finally:
            receiver.close()


# --- Twilio -------------------------------------------------------------------------

SID, TOKEN = "AC" + "0" * 32, "twiliotoken"


def twilio(port, method, path, form=None, *, auth=(SID, TOKEN)):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with OPENER.open(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


class TwilioTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.log = os.path.join(cls.dir.name, "twilio.jsonl")
        cls.receiver = Receiver()
        cls.proc, cls.port = start_fake(
            "fake_twilio.py", "--log", cls.log, "--account-sid", SID, "--auth-token", TOKEN,
            "--invalid-prefix", "+1555000", "--undeliverable-prefix", "+1555999", "--callbacks",
        )

    @classmethod
    def tearDownClass(cls):
        stop(cls.proc)
        cls.receiver.close()
        cls.dir.cleanup()

    def creates(self, to):
        return [r for r in read_log(self.log) if r["action"] == "Messages.create" and r["to"] == to]

    def test_create_is_accepted_and_logged(self):
        status, msg = twilio(self.port, "POST", MESSAGES, {"To": "+15551230001", "From": "+15017122661", "Body": "Payment reminder (ref T-1)"})
        self.assertEqual(status, 201)
        self.assertRegex(msg["sid"], r"^SM[0-9a-f]{32}$")
        self.assertEqual((msg["status"], msg["to"], msg["from"], msg["body"]), ("queued", "+15551230001", "+15017122661", "Payment reminder (ref T-1)"))
        self.assertTrue(msg["date_created"].endswith("+0000"))
        [line] = self.creates("+15551230001")
        self.assertEqual((line["sid"], line["body"], line["status_callback"]), (msg["sid"], "Payment reminder (ref T-1)", None))

    def test_bad_auth_is_refused(self):
        status, err = twilio(self.port, "POST", MESSAGES, {"To": "+15551230002", "From": "+15017122661", "Body": "x"}, auth=(SID, "wrong"))
        self.assertEqual((status, err["code"], err["status"]), (401, 20003, 401))
        status, err = twilio(self.port, "POST", MESSAGES, {"To": "+15551230002", "From": "+15017122661", "Body": "x"}, auth=None)
        self.assertEqual(status, 401)
        self.assertEqual(self.creates("+15551230002"), [])

    def test_invalid_to(self):
        for to in ("5551230003", "+15550001234"):  # not E.164; --invalid-prefix
            status, err = twilio(self.port, "POST", MESSAGES, {"To": to, "From": "+15017122661", "Body": "x"})
            self.assertEqual((status, err["code"]), (400, 21211))
            self.assertEqual(err["message"], f"Invalid 'To' Phone Number: {to}")
            self.assertEqual(err["more_info"], "https://www.twilio.com/docs/errors/21211")
            self.assertEqual(self.creates(to), [])

    def test_list_by_to_and_date_sent(self):
        to = "+15551230004"
        sid = twilio(self.port, "POST", MESSAGES, {"To": to, "MessagingServiceSid": "MG" + "1" * 32, "Body": "Reminder (ref T-4)"})[1]["sid"]
        today = dt.datetime.now(dt.timezone.utc).date()
        yesterday = today - dt.timedelta(days=1)
        enc_to = urllib.parse.quote(to, safe="")
        for query in (f"To={enc_to}&DateSent>={today}", f"To={enc_to}&DateSent%3E={yesterday}", f"To={enc_to}&DateSent={today}", f"DateSent<={today}"):
            status, page = twilio(self.port, "GET", f"{MESSAGES}?{query}")
            self.assertEqual(status, 200, query)
            self.assertEqual((page["page"], page["page_size"]), (0, 50))
            found = [m for m in page["messages"] if m["sid"] == sid]
            self.assertEqual(len(found), 1, query)
            self.assertEqual(found[0]["body"], "Reminder (ref T-4)")
        for query in (f"To={enc_to}&DateSent<={yesterday}", f"To={enc_to}&DateSent>={today + dt.timedelta(days=1)}", "To=%2B15559990000"):
            self.assertEqual(twilio(self.port, "GET", f"{MESSAGES}?{query}")[1]["messages"], [], query)
        self.assertEqual(twilio(self.port, "GET", f"{MESSAGES}?To={enc_to}", auth=(SID, "x"))[0], 401)

    def test_status_callbacks_are_signed(self):
        for to, want in (("+15551230005", "delivered"), ("+15559990005", "undelivered")):
            url = f"{self.receiver.url}/twilio/status?mid=T-{to[-4:]}"
            sid = twilio(self.port, "POST", MESSAGES, {"To": to, "From": "+15017122661", "Body": "x", "StatusCallback": url})[1]["sid"]

            def callback():
                for req in list(self.receiver.requests):
                    form = urllib.parse.parse_qsl(req["body"].decode())
                    if dict(form).get("MessageSid") == sid:
                        return req, form
                return None

            found = wait_until(callback)
            self.assertTrue(found, f"callback for {to}")
            req, form = found
            fields = dict(form)
            self.assertEqual((fields["MessageStatus"], fields["SmsStatus"], fields["To"], fields["AccountSid"]), (want, want, to, SID))
            self.assertEqual(fields.get("ErrorCode"), "30003" if want == "undelivered" else None)
            full_url = self.receiver.url + req["path"]
            self.assertEqual(req["headers"]["X-Twilio-Signature"], signing.twilio_signature(TOKEN, full_url, form))
            self.assertNotEqual(req["headers"]["X-Twilio-Signature"], signing.twilio_signature("other", full_url, form))
            logged = wait_until(lambda: [r for r in read_log(self.log) if r["action"] == "StatusCallback" and r["sid"] == sid])
            self.assertEqual((logged[0]["message_status"], logged[0]["http_status"]), (want, 200))


class TwilioModesTest(unittest.TestCase):
    def test_transient_and_lossy(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "twilio.jsonl")
            proc, port = start_fake("fake_twilio.py", "--log", log, "--account-sid", SID, "--auth-token", TOKEN, "--transient-every", "2", "--lossy-every", "2")
            try:
                form = {"To": "+15551230010", "From": "+15017122661", "Body": "x"}
                self.assertEqual(twilio(port, "POST", MESSAGES, form)[0], 201)  # call 1, accepted 1
                status, err = twilio(port, "POST", MESSAGES, form)  # call 2
                self.assertEqual((status, err["code"]), (429, 20429))
                with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
                    twilio(port, "POST", MESSAGES, form)  # call 3, accepted 2: logged, unanswered
                self.assertEqual(len([r for r in read_log(log) if r["action"] == "Messages.create"]), 2)
            finally:
                stop(proc)


# --- robots -------------------------------------------------------------------------

WECOM_KEY, DT_TOKEN, DT_SECRET = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa", "dttoken", "SECdingtalksecret"


def post_json(port, path, obj):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(obj).encode(), method="POST", headers={"Content-Type": "application/json"})
    with OPENER.open(req, timeout=10) as r:
        return r.status, json.loads(r.read())


def dingtalk_path(token=DT_TOKEN, secret=DT_SECRET, ts=None):
    ts = ts if ts is not None else int(time.time() * 1000)
    return f"/robot/send?access_token={token}&timestamp={ts}&sign={signing.dingtalk_sign(secret, ts)}"


class RobotsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.log = os.path.join(self.dir.name, "robots.jsonl")
        self.proc = None

    def tearDown(self):
        if self.proc:
            stop(self.proc)
        self.dir.cleanup()

    def fake(self, per_minute="100"):
        self.proc, port = start_fake("fake_robots.py", "--log", self.log, "--wecom-key", WECOM_KEY, "--dingtalk-token", DT_TOKEN, "--dingtalk-secret", DT_SECRET, "--per-minute", per_minute)
        return port

    def test_wecom(self):
        port = self.fake()
        wecom = f"/cgi-bin/webhook/send?key={WECOM_KEY}"
        text = {"msgtype": "text", "text": {"content": "案件 C123 已承诺还款 [ref T-1]", "mentioned_list": ["@all"]}}
        self.assertEqual(post_json(port, wecom, text), (200, {"errcode": 0, "errmsg": "ok"}))
        self.assertEqual(post_json(port, "/cgi-bin/webhook/send?key=wrong", text)[1]["errcode"], 93000)
        exact = {"msgtype": "text", "text": {"content": "还" * 682 + "xx"}}  # 2048 bytes
        self.assertEqual(post_json(port, wecom, exact)[1]["errcode"], 0)
        too_long = {"msgtype": "text", "text": {"content": "还" * 683}}  # 2049 bytes
        self.assertEqual(post_json(port, wecom, too_long)[1]["errcode"], 40058)
        md = {"msgtype": "markdown", "markdown": {"content": "逾期 <font color=\"warning\">132例</font> [ref T-2] [ref T-3]"}}
        self.assertEqual(post_json(port, wecom, md)[1]["errcode"], 0)
        self.assertNotEqual(post_json(port, wecom, {"msgtype": "text", "text": {}})[1]["errcode"], 0)
        log = read_log(self.log)
        self.assertEqual([(r["robot"], r["msgtype"], r["refs"]) for r in log], [("wecom", "text", ["T-1"]), ("wecom", "text", []), ("wecom", "markdown", ["T-2", "T-3"])])
        self.assertEqual(log[0]["content"], "案件 C123 已承诺还款 [ref T-1]")

    def test_dingtalk(self):
        port = self.fake()
        text = {"msgtype": "text", "text": {"content": "逾期提醒 [ref D-1]"}, "at": {"isAtAll": False}}
        self.assertEqual(post_json(port, dingtalk_path(), text), (200, {"errcode": 0, "errmsg": "ok"}))
        self.assertEqual(post_json(port, dingtalk_path(secret="SECwrong"), text)[1], {"errcode": 310000, "errmsg": "sign not match"})
        stale = int(time.time() * 1000) - 2 * 3600 * 1000  # correctly signed, 2 h old
        self.assertEqual(post_json(port, dingtalk_path(ts=stale), text)[1]["errcode"], 310000)
        self.assertNotEqual(post_json(port, dingtalk_path(token="other"), text)[1]["errcode"], 0)
        md = {"msgtype": "markdown", "markdown": {"title": "逾期提醒", "text": "#### 今日新增\n> 132 例 [ref D-2]"}}
        self.assertEqual(post_json(port, dingtalk_path(), md)[1]["errcode"], 0)
        self.assertNotEqual(post_json(port, dingtalk_path(), {"msgtype": "markdown", "markdown": {"text": "no title"}})[1]["errcode"], 0)
        log = read_log(self.log)
        self.assertEqual([(r["robot"], r["msgtype"], r["refs"]) for r in log], [("dingtalk", "text", ["D-1"]), ("dingtalk", "markdown", ["D-2"])])

    def test_rate_limit_per_robot(self):
        port = self.fake(per_minute="2")
        wecom = f"/cgi-bin/webhook/send?key={WECOM_KEY}"
        msg = {"msgtype": "text", "text": {"content": "x"}}
        self.assertEqual([post_json(port, wecom, msg)[1]["errcode"] for _ in range(3)], [0, 0, 45009])
        self.assertEqual([post_json(port, dingtalk_path(), msg)[1]["errcode"] for _ in range(3)], [0, 0, 130101])
        self.assertEqual(len(read_log(self.log)), 4)


# --- SMTP sink ----------------------------------------------------------------------


class DedupSinkTest(unittest.TestCase):
    def start_sink(self, maildir):
        port = free_port()
        env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "dedup_sink.DedupMailbox", maildir],
            env=env, stdin=subprocess.DEVNULL,
        )

        def up():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return proc.poll() is not None  # stop waiting if it died

        wait_until(up, 15)
        self.assertIsNone(proc.poll(), "sink is running")
        return proc, port

    def send(self, port, message_id):
        msg = email.message.EmailMessage()
        msg["From"] = "noreply@arrears.example"
        msg["To"] = "borrower@example.com"
        msg["Subject"] = "还款提醒"
        if message_id:
            msg["X-Arrears-Message-Id"] = message_id
        msg.set_content("请按时还款")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.send_message(msg)  # raises unless the sink answered 250

    def test_stores_once_and_logs_repeats(self):
        with tempfile.TemporaryDirectory() as d:
            maildir = os.path.join(d, "mail")
            proc, port = self.start_sink(maildir)
            try:
                for message_id in ("m-1", "m-1", "m-2", None, None):
                    self.send(port, message_id)
            finally:
                stop(proc)
            stored = self.stored_ids(maildir)
            self.assertEqual(sorted(stored, key=str), sorted(["m-1", "m-2", None, None], key=str))
            self.assertEqual(self.duplicates(maildir), ["m-1"])

            # Ids already in the Maildir count after a restart.
            proc, port = self.start_sink(maildir)
            try:
                self.send(port, "m-2")
                self.send(port, "m-3")
            finally:
                stop(proc)
            self.assertEqual(self.duplicates(maildir), ["m-1", "m-2"])
            self.assertEqual(sorted(i for i in self.stored_ids(maildir) if i), ["m-1", "m-2", "m-3"])

    @staticmethod
    def stored_ids(maildir):
        new = os.path.join(maildir, "new")
        return [dedup_sink.message_id_of_file(os.path.join(new, n)) for n in os.listdir(new)]

    @staticmethod
    def duplicates(maildir):
        path = os.path.join(maildir, "duplicates.log")
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            return f.read().split()


if __name__ == "__main__":
    unittest.main(verbosity=2)

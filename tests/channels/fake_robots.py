#!/usr/bin/env python3
"""Fake WeCom group robot and DingTalk custom robot (signed mode) on one port,
speaking the documented webhooks. See docs/channels-design.md §5.1 and §5.2.

    python3 tests/channels/fake_robots.py --log FILE [--port 0]
        --wecom-key KEY --dingtalk-token TOKEN --dingtalk-secret SEC...
        [--per-minute 20] [--max-skew-s 3600]

    POST /cgi-bin/webhook/send?key=KEY                           (WeCom)
    POST /robot/send?access_token=T&timestamp=MS&sign=S          (DingTalk)

Prints `listening on <port>` when ready. Neither robot de-duplicates. Both
answer HTTP 200; success is {"errcode":0,"errmsg":"ok"}, anything else has a
non-zero errcode. Log line per accepted message (JSONL; keys/tokens are secrets
and never logged):
    {"robot":"wecom"|"dingtalk","msgtype","content","title","refs":[...],"at"}
"""

import argparse
import collections
import hmac
import json
import os
import re
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fakeutil  # noqa: E402
import signing  # noqa: E402

REF = re.compile(r"\[ref ([^\]\s]+)\]")
WECOM_TEXT_MAX = 2048  # bytes of UTF-8 (§5.1)
WECOM_MARKDOWN_MAX = 4096  # bytes of UTF-8 (WeCom's documented markdown limit)


class RateLimit:
    """At most `n` accepted messages in any 60 s window, per robot (§5.1, §5.2).
    DingTalk's 10-minute penalty after an overrun is not modelled."""

    def __init__(self, n: int):
        self.n = n
        self.lock = threading.Lock()
        self.times: collections.deque = collections.deque()

    def take(self) -> bool:
        now = time.monotonic()
        with self.lock:
            while self.times and now - self.times[0] >= 60.0:
                self.times.popleft()
            if len(self.times) >= self.n:
                return False
            self.times.append(now)
            return True


class Handler(fakeutil.QuietHandler):
    args = None  # set in main()
    log: fakeutil.JsonlLog
    limits: dict

    def do_POST(self):
        self.guarded(self._post)

    def do_GET(self):
        self.guarded(self._get)

    def _get(self):
        self.read_body()
        self.reply_json(404, {"errcode": 404, "errmsg": "not found"})

    def _post(self):
        body = self.read_body()
        path, _, query = self.path.partition("?")
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if path == "/cgi-bin/webhook/send":
            return self._wecom(q, body)
        if path == "/robot/send":
            return self._dingtalk(q, body)
        self.reply_json(404, {"errcode": 404, "errmsg": "not found"})

    def answer(self, errcode: int, errmsg: str):
        # Both robots answer HTTP 200 even on failure; errcode tells.
        self.reply_json(200, {"errcode": errcode, "errmsg": errmsg})

    def accept(self, robot: str, msgtype: str, content: str, title: str | None = None):
        rec = {"robot": robot, "msgtype": msgtype, "content": content}
        if title is not None:
            rec["title"] = title
        rec["refs"] = REF.findall(content)
        rec["at"] = fakeutil.now_iso()
        self.log.write(rec)
        self.answer(0, "ok")

    # --- WeCom (§5.1) -----------------------------------------------------------

    def _wecom(self, q: dict, body: bytes):
        key = self.args.wecom_key
        if not key or not hmac.compare_digest(q.get("key", "").encode(), key.encode()):
            return self.answer(93000, "invalid webhook url")
        msg = _json_object(body)
        if msg is None:
            return self.answer(40035, "invalid args: body is not a JSON object")
        msgtype = msg.get("msgtype")
        if msgtype not in ("text", "markdown"):
            return self.answer(40008, f"invalid message type: {msgtype!r} (this fake takes text and markdown)")
        part = msg.get(msgtype)
        content = part.get("content") if isinstance(part, dict) else None
        if not isinstance(content, str) or not content:
            return self.answer(44004, "empty content")
        limit = WECOM_TEXT_MAX if msgtype == "text" else WECOM_MARKDOWN_MAX
        if len(content.encode("utf-8")) > limit:
            return self.answer(40058, f"content exceed max length {limit} bytes")
        if msgtype == "text":
            for name in ("mentioned_list", "mentioned_mobile_list"):
                value = part.get(name)
                if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                    return self.answer(40035, f"invalid args: {name} is a list of strings")
        if not self.limits["wecom"].take():
            return self.answer(45009, "api freq out of limit")
        self.accept("wecom", msgtype, content)

    # --- DingTalk (§5.2) --------------------------------------------------------

    def _dingtalk(self, q: dict, body: bytes):
        args = self.args
        token = args.dingtalk_token
        if not token or not hmac.compare_digest(q.get("access_token", "").encode(), token.encode()):
            return self.answer(300001, "token is not exist")
        timestamp, sign = q.get("timestamp", ""), q.get("sign", "")
        if not timestamp.isdigit() or not sign:
            return self.answer(310000, "sign not match: timestamp and sign are required in signed mode")
        # The timestamp (epoch ms) must be within 1 h of DingTalk's clock (§5.2).
        if abs(time.time() * 1000 - int(timestamp)) > args.max_skew_s * 1000:
            return self.answer(310000, "invalid timestamp")
        # parse_qsl undid the sender's urlEncode; compare the bare base64.
        expected = signing.dingtalk_sign_base64(args.dingtalk_secret, timestamp)
        if not hmac.compare_digest(expected.encode(), sign.encode()):
            return self.answer(310000, "sign not match")
        msg = _json_object(body)
        if msg is None:
            return self.answer(40035, "缺少参数 json")
        msgtype = msg.get("msgtype")
        part = msg.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype == "text":
            content = part.get("content") if isinstance(part, dict) else None
            title = None
        elif msgtype == "markdown":
            content = part.get("text") if isinstance(part, dict) else None
            title = part.get("title") if isinstance(part, dict) else None
            if not isinstance(title, str) or not title:
                return self.answer(40035, "缺少参数 markdown.title")
        else:
            return self.answer(40035, f"不支持的 msgtype {msgtype!r} (this fake takes text and markdown)")
        if not isinstance(content, str) or not content:
            return self.answer(40035, f"缺少参数 {msgtype}.{'content' if msgtype == 'text' else 'text'}")
        at = msg.get("at")
        if at is not None and not isinstance(at, dict):
            return self.answer(40035, "at is an object")
        if not self.limits["dingtalk"].take():
            return self.answer(130101, "send too fast, exceed 20 times per minute")
        self.accept("dingtalk", msgtype, content, title)


def _json_object(body: bytes):
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--log", required=True, help="JSONL log file (appended)")
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument("--wecom-key", default="", help="the WeCom webhook key (no key: every WeCom call gets 93000)")
    ap.add_argument("--dingtalk-token", default="", help="the DingTalk access_token")
    ap.add_argument("--dingtalk-secret", default="", help="the DingTalk SEC... signing secret")
    ap.add_argument("--per-minute", type=fakeutil.positive_int, default=20, help="messages per robot per 60 s (documented: 20)")
    ap.add_argument("--max-skew-s", type=int, default=3600, help="DingTalk timestamp window (documented: 1 h)")
    args = ap.parse_args(argv)
    if args.dingtalk_token and not args.dingtalk_secret:
        ap.error("--dingtalk-token needs --dingtalk-secret (signed mode)")

    Handler.args = args
    Handler.log = fakeutil.JsonlLog(args.log)
    Handler.limits = {"wecom": RateLimit(args.per_minute), "dingtalk": RateLimit(args.per_minute)}
    server = fakeutil.FakeServer(("127.0.0.1", args.port), Handler)
    fakeutil.serve(server, on_exit=Handler.log.close)


if __name__ == "__main__":
    main()

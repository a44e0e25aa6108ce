"""Request-signing helpers shared by the fake providers and their self-test.

Each function implements one provider's documented scheme exactly as written in
docs/channels-design.md; test_fakes.py checks each against the published vector
quoted there. Standard library only.
"""

import base64
import hashlib
import hmac
import urllib.parse
from typing import Iterable, Mapping, Sequence

# --- Alibaba Cloud ACS3-HMAC-SHA256 (design doc §3.2) -----------------------

ACS3_ALGORITHM = "ACS3-HMAC-SHA256"


def acs3_percent_encode(text: str) -> str:
    """RFC 3986 encoding of UTF-8 text: A-Za-z0-9-_.~ kept, everything else %XX
    with uppercase hex (so space -> %20, '*' -> %2A, '+' -> %2B, '~' kept)."""
    return urllib.parse.quote(text, safe="-_.~", encoding="utf-8")


def acs3_canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """CanonicalQueryString: every parameter's name and value percent-encoded,
    sorted by name (then value, for a repeated name), "k=v" joined by "&".
    An empty value keeps its "=" ("k=")."""
    encoded = sorted((acs3_percent_encode(k), acs3_percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def acs3_canonical_request(
    method: str,
    canonical_uri: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes,
) -> str:
    """CanonicalRequest of §3.2. `headers` maps lowercase names to values;
    `signed_headers` are the names to sign (lowercased and sorted here).
    CanonicalHeaders ends in "\\n" and is then joined with "\\n", so the
    canonical request has an empty line before SignedHeaders (as in Alibaba's
    published example)."""
    names = sorted({n.strip().lower() for n in signed_headers})
    canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri,
            acs3_canonical_query(params),
            canonical_headers,
            ";".join(names),
            sha256_hex(body),
        ]
    )


def acs3_signature(secret: str, canonical_request: str) -> tuple[str, str]:
    """Returns (lowercase hex sha256(CanonicalRequest), lowercase hex Signature)."""
    hashed = sha256_hex(canonical_request.encode("utf-8"))
    string_to_sign = f"{ACS3_ALGORITHM}\n{hashed}"
    signature = hmac.new(
        secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return hashed, signature


def acs3_sign_rpc(
    access_key_id: str,
    secret: str,
    *,
    action: str,
    version: str,
    host: str,
    params: Iterable[tuple[str, str]],
    date: str,
    nonce: str,
    body: bytes = b"",
    method: str = "POST",
) -> tuple[str, dict[str, str]]:
    """Client side of an RPC-style call (§3.1): returns (path-with-query, headers).
    The path carries exactly the canonical query string, as §3.2 requires."""
    params = list(params)
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": sha256_hex(body),
    }
    signed = sorted(headers)
    canonical = acs3_canonical_request(method, "/", params, headers, signed, body)
    _, signature = acs3_signature(secret, canonical)
    headers["authorization"] = (
        f"{ACS3_ALGORITHM} Credential={access_key_id},"
        f"SignedHeaders={';'.join(signed)},Signature={signature}"
    )
    query = acs3_canonical_query(params)
    return ("/?" + query if query else "/"), headers


def acs3_parse_authorization(value: str) -> dict[str, str] | None:
    """Splits `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`;
    None when it is not of that form."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ACS3_ALGORITHM:
        return None
    fields = {}
    for part in rest.split(","):
        name, eq, val = part.strip().partition("=")
        if not eq:
            return None
        fields[name] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        return None
    return fields


# --- Twilio X-Twilio-Signature (design doc §4.2) -----------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Base64(HMAC-SHA1(auth_token, url + name1 + value1 + name2 + value2 ...)),
    parameters sorted by name (case-sensitive, i.e. by code point), values
    url-decoded. A repeated name contributes each of its values, sorted, as
    Twilio's helper libraries do."""
    data = url
    for name, value in sorted(params):
        data += name + value
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_signature_valid(
    auth_token: str, url: str, params: Iterable[tuple[str, str]], header: str
) -> bool:
    expected = twilio_signature(auth_token, url, params)
    return hmac.compare_digest(expected.encode(), header.encode())


# --- DingTalk custom robot, signed mode (design doc §5.2) --------------------


def dingtalk_sign_base64(secret: str, timestamp_ms: int | str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)), not url-encoded."""
    message = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_sign(secret: str, timestamp_ms: int | str) -> str:
    """The `sign` query value as DingTalk documents it: urlEncode(base64(...))."""
    return urllib.parse.quote(dingtalk_sign_base64(secret, timestamp_ms), safe="")

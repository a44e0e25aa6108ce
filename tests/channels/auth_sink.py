"""An SMTP server as a bank's relay is set up: STARTTLS required, then AUTH (PLAIN or LOGIN)
with one user and password, mail stored in a Maildir. For the dispatcher's authentication
test; aiosmtpd's command line cannot ask for AUTH, so this starts its Controller.

    python3 auth_sink.py --port P --maildir DIR --cert server.pem --key server.key \\
        --user U --password W

Prints `listening on P` once ready; stops on SIGTERM."""

import argparse
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: aiosmtpd answers 535 5.7.8 for a failure, as relays do.
        return AuthResult(success=ok, handled=False)

    return check


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    controller = Controller(
        Mailbox(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        tls_context=ctx,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=authenticator(args.user, args.password),
    )
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on {args.port}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()

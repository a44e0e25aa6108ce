"""De-duplicating SMTP sink: the relay of design doc §1.4, answer A.

    PYTHONPATH=tests/channels python3 -m aiosmtpd -n -l 127.0.0.1:PORT \
        -c dedup_sink.DedupMailbox DIR

Stores each message in the Maildir DIR (as aiosmtpd.handlers.Mailbox does: write
to tmp/, rename into new/, and only then answer 250), keyed by its
X-Arrears-Message-Id header. A message whose id is already stored is answered
250 too but not stored; its id is appended as one line to DIR/duplicates.log.
Ids already in DIR when the sink starts count as stored. Messages without the
header are stored normally. SIGTERM stops the sink like Ctrl-C (exit status 0).

Two settings from the environment, for the crash tests:
  DEDUP_SINK_DELAY_MS   wait this long before storing each message (a slow relay,
                        so that a dispatcher can be killed with work in flight);
  DEDUP_SINK_PLAIN=1    store repeats too, as a relay without de-duplication does
                        (they are still listed in duplicates.log).
"""

import email.parser
import os
import signal
import time

from aiosmtpd.handlers import Mailbox

HEADER = "X-Arrears-Message-Id"


def message_id_of_file(path: str) -> str | None:
    """The header's value in a stored message: only the header block (up to
    the first empty line) is read and parsed."""
    lines = []
    with open(path, "rb") as f:
        for line in f:
            if line in (b"\n", b"\r\n"):
                break
            lines.append(line)
    headers = email.parser.BytesHeaderParser().parsebytes(b"".join(lines))
    value = headers.get(HEADER)
    return value.strip() if value else None


class DedupMailbox(Mailbox):
    def __init__(self, mail_dir, message_class=None):
        super().__init__(mail_dir, message_class)  # creates DIR/{tmp,new,cur}
        self.duplicates_path = os.path.join(mail_dir, "duplicates.log")
        self.delay = int(os.environ.get("DEDUP_SINK_DELAY_MS", "0")) / 1000.0
        self.plain = os.environ.get("DEDUP_SINK_PLAIN") == "1"
        self.seen: set[str] = set()
        for sub in ("new", "cur"):
            folder = os.path.join(mail_dir, sub)
            for name in os.listdir(folder):
                message_id = message_id_of_file(os.path.join(folder, name))
                if message_id:
                    self.seen.add(message_id)

    def handle_message(self, message) -> None:
        # Called from the inherited handle_DATA, which answers "250 OK" only
        # after this returns, i.e. after the message is safely in new/ (§1.4 t2).
        # aiosmtpd runs handlers on one event loop thread: no lock needed.
        if self.delay:
            # Blocks the event loop: every connection waits, as behind one slow disk.
            time.sleep(self.delay)
        value = message.get(HEADER)
        message_id = str(value).strip() if value else None
        if message_id and message_id in self.seen:
            with open(self.duplicates_path, "a", encoding="utf-8") as log:
                log.write(message_id + "\n")
            if not self.plain:
                return
        self.mailbox.add(message)
        if message_id:
            self.seen.add(message_id)

    @classmethod
    def from_cli(cls, parser, *args):
        # aiosmtpd's main() stops cleanly on SIGINT only (KeyboardInterrupt
        # around run_forever); make SIGTERM do the same.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        return super().from_cli(parser, *args)

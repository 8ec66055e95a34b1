"""Generators of large, realistic inputs for the benchmarks (never committed)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

_PHRASES = ("hi where are you why won't you answer me I saw you today at the station "
            "please talk to me I just want to see you again you can't ignore me forever "
            "outside your house tonight coffee work gym later call me now")
WORDS = tuple(_PHRASES.split(" "))


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 18)))


def whatsapp_export(path: Path, messages: int, seed: int = 7) -> int:
    """An Android en-GB export: 24 h, no seconds; some multi-line and media lines."""
    rng = random.Random(seed)
    moment = datetime(2023, 1, 1, 8, 0)  # noqa: DTZ001 - export wall-clock time, no zone
    senders = ("Sam Taylor", "Alex Morgan", "+44 7700 900461")
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for n in range(messages):
            moment += timedelta(seconds=rng.randint(5, 400))
            stamp = moment.strftime("%d/%m/%Y, %H:%M")
            body = _sentence(rng)
            if n % 50 == 0:
                body += "\n" + _sentence(rng)
            elif n % 97 == 0:
                body = "<Media omitted>"
            out.write(f"{stamp} - {rng.choice(senders)}: {body}\n")
    return messages


def mbox(path: Path, target_bytes: int, seed: int = 11) -> int:
    """A Gmail-Takeout-like mbox (CRLF) with ~4 KB messages, every 20th with a 30 KB attachment."""
    import base64

    rng = random.Random(seed)
    moment = datetime(2023, 1, 1, 8, 0)  # noqa: DTZ001 - rendered with an explicit +0000 below
    count = 0
    with path.open("wb") as out:
        while out.tell() < target_bytes:
            count += 1
            moment += timedelta(seconds=rng.randint(30, 4000))
            date = moment.strftime("%a, %d %b %Y %H:%M:%S +0000")
            body = "\r\n".join(_sentence(rng) for _ in range(40))
            if count % 7 == 0:
                body += "\r\nFrom the top, again.\r\n>From a quoted line"
            separator = moment.strftime("%a %b %d %H:%M:%S +0000 %Y")
            headers = (
                f"From {1700000000000 + count}@xxx {separator}\r\n"
                f"X-GM-THRID: {1700000000000 + count // 3}\r\n"
                "X-Gmail-Labels: Inbox,Opened\r\n"
                f"Message-ID: <bench-{count}@mail.example.com>\r\n"
                f"Date: {date}\r\n"
                "From: Sam Taylor <sam.t.1990@example.com>\r\n"
                "To: alex.morgan@example.org\r\n"
                f"Subject: =?utf-8?q?message_{count}_=E2=9C=89?=\r\n"
                "MIME-Version: 1.0\r\n"
            )
            body = body.replace("\r\nFrom the top", "\r\n>From the top")
            if count % 20 == 0:
                payload = base64.encodebytes(rng.randbytes(30_000)).decode().replace("\n", "\r\n")
                message = (
                    headers + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
                    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n"
                    "--b1\r\nContent-Type: application/octet-stream\r\n"
                    f'Content-Disposition: attachment; filename="file{count}.bin"\r\n'
                    "Content-Transfer-Encoding: base64\r\n\r\n" + payload + "--b1--\r\n"
                )
            else:
                plain = "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                message = headers + plain + body + "\r\n"
            out.write(message.encode("utf-8") + b"\r\n")
    return count

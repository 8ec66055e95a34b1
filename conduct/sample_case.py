"""A synthetic stalking case for the demo: invented people, numbers from Ofcom's
drama ranges (07700 900xxx) and example.com/.org addresses, nothing real.

The files are what a victim typically hands over: an iPhone WhatsApp export
with a photo, an Android WhatsApp export from a second number the suspect
started using after being blocked, and a Gmail Takeout mbox.
"""

from __future__ import annotations

import base64
import struct
import zipfile
import zlib
from datetime import datetime, timedelta
from pathlib import Path

LRM = "\u200e"
SUSPECT = "Sam Taylor"
VICTIM = "Alex Morgan"


def tiny_png(width: int = 8, height: int = 8, shade: int = 90) -> bytes:
    """A valid PNG built by hand, so the demo needs no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([shade, 40, 40]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def _ios_chat() -> str:
    def line(when: str, who: str, text: str) -> str:
        return f"[{when}] {who}: {text}\r\n"

    return "".join([
        line("01/03/2024, 19:02:11", SUSPECT,
             f"{LRM}Messages and calls are end-to-end encrypted. No one outside of this chat, "
             "not even WhatsApp, can read or listen to them."),
        line("01/03/2024, 19:02:11", SUSPECT, "Hi Alex, great to meet you at the gym today"),
        line("01/03/2024, 19:40:52", VICTIM, "Hi! Yes, nice to meet you too"),
        line("04/03/2024, 23:14:03", SUSPECT, "Why didn't you answer my call?"),
        line("04/03/2024, 23:15:40", SUSPECT, f"{LRM}Missed voice call, {LRM}Tap to call back"),
        line("04/03/2024, 23:16:02", SUSPECT, f"{LRM}Missed voice call, {LRM}Tap to call back"),
        line("05/03/2024, 07:30:15", VICTIM, "I was asleep. Please don't call that late."),
        line("08/03/2024, 21:05:44", SUSPECT,
             "You looked nice in the blue coat today.\r\nWas that your sister with you?"),
        line("08/03/2024, 21:40:09", SUSPECT,
             f"{LRM}<attached: 00000014-PHOTO-2024-03-08-21-40-09.png>"),
        line("08/03/2024, 21:41:30", VICTIM,
             "How do you know what I was wearing? Please stop contacting me."),
        line("13/03/2024, 00:12:45", SUSPECT, "I only want to talk. Answer me"),
        line("13/03/2024, 00:13:10", SUSPECT, "This message was deleted."),
        line("13/03/2024, 00:20:31", SUSPECT, "I know where you work, you can't ignore me forever"),
        line("31/03/2024, 01:30:00", SUSPECT, "Still up? I can see your light is on"),
        line("31/03/2024, 02:05:17", SUSPECT, f"{LRM}Missed voice call, {LRM}Tap to call back"),
        line("02/04/2024, 18:22:40", SUSPECT, "You blocked me on Instagram. Why?"),
    ])


def _android_chat() -> str:
    entries = [
        ("14/04/2024, 22:01", "+44 7700 900461", "New number, you can't block this one"),
        ("14/04/2024, 22:01", "+44 7700 900461", "We need to talk"),
        ("14/04/2024, 22:03", "+44 7700 900461", "<Media omitted>"),
        ("15/04/2024, 08:12", VICTIM, "Leave me alone. I have reported you to the police."),
    ]
    start = datetime(2024, 4, 20, 23, 0)  # noqa: DTZ001 - a naive wall-clock time, as in the export
    for n in range(12):
        moment = start + timedelta(minutes=7 * n)
        entries.append((moment.strftime("%d/%m/%Y, %H:%M"), "+44 7700 900461",
                        ["Answer me", "Why are you ignoring me", "I'm outside",
                         "Come to the window"][n % 4]))
    text = "\n".join(f"{when} - {who}: {body}" for when, who, body in entries)
    return "14/04/2024, 21:59 - Messages and calls are end-to-end encrypted. No one outside of " \
           "this chat, not even WhatsApp, can read or listen to them. Tap to learn more.\n" \
           + text + "\n"


def _email(n: int, when: str, subject: str, body: str, attachment: bytes | None = None) -> bytes:
    boundary = f"=_demo_boundary_{n}"
    headers = (
        f"From 1790000000000{n}@xxx {_asctime(when)}\r\n"
        f"X-GM-THRID: 179000000000{n:04d}\r\n"
        "X-Gmail-Labels: Inbox,Category Personal\r\n"
        "Return-Path: <sam.t.1990@example.com>\r\n"
        f"Message-ID: <demo-{n}@mail.example.com>\r\n"
        f"Date: {when}\r\n"
        "From: Sam Taylor <sam.t.1990@example.com>\r\n"
        "To: Alex Morgan <alex.morgan@example.org>\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
    )
    if attachment is None:
        return (headers + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n\r\n"
                ).encode()
    encoded = base64.encodebytes(attachment).decode().replace("\n", "\r\n")
    return (
        headers + f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        f"--{boundary}\r\nContent-Type: image/png\r\n"
        'Content-Disposition: attachment; filename="your-house.png"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}--{boundary}--\r\n\r\n"
    ).encode()


def _asctime(rfc2822: str) -> str:
    """The separator-line date Gmail writes: asctime with a +0000 zone."""
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    moment = parsedate_to_datetime(rfc2822).astimezone(UTC)
    return moment.strftime("%a %b %d %H:%M:%S +0000 %Y")


def _mbox() -> bytes:
    return b"".join([
        _email(1, "Sat, 06 Apr 2024 22:10:05 +0100", "Please just talk to me",
               "Alex,\r\nI don't understand why you blocked me.\r\n>From now on I'll write here."),
        _email(2, "Sun, 07 Apr 2024 23:45:00 +0100", "=?utf-8?q?I_saw_you_today_=F0=9F=91=80?=",
               "You walked past the caf\u00e9 at 5. I was there.",
               attachment=tiny_png(shade=200)),
        _email(3, "Tue, 09 Apr 2024 02:12:33 +0100", "last chance",
               "If you won't answer I'll come round and we can talk properly."),
    ])


def write_sample_case(folder: Path) -> list[Path]:
    """Write the victim's material into ``folder``; returns the items handed over."""
    folder.mkdir(parents=True, exist_ok=True)
    ios = folder / "WhatsApp Chat - Sam Taylor.zip"
    with zipfile.ZipFile(ios, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("_chat.txt", (2024, 4, 3, 9, 0, 0)),
                         _ios_chat().encode("utf-8"))
        archive.writestr(zipfile.ZipInfo("00000014-PHOTO-2024-03-08-21-40-09.png",
                                         (2024, 4, 3, 9, 0, 0)), tiny_png())
    android = folder / "WhatsApp Chat with +44 7700 900461.txt"
    android.write_text(_android_chat(), encoding="utf-8", newline="\n")
    mbox = folder / "All mail Including Spam and Trash.mbox"
    mbox.write_bytes(_mbox())
    return [ios, android, mbox]

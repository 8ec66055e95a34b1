"""A big, realistic SMS Backup & Restore messages file for the benchmarks (never committed).

Shaped like the app's own output: XML declaration, the "File Created By" comment,
the stylesheet PI, one ``<sms>`` per line with every attribute the app writes,
emoji as UTF-16 surrogate references, newlines as ``&#10;``, and about 1% MMS
carrying a small base64 PNG. About 500 bytes per message on average, so a
million messages make about 500 MB.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import WORDS

_PEOPLE = (
    ("+447700900461", "Sam Taylor"),
    ("07700 900462", "(Unknown)"),
    ("+44 7700 900463", "Alex Morgan"),
    ("+15555550123", "(Unknown)"),
    ("VODAFONE", "(Unknown)"),
    ("80800", "(Unknown)"),
)
# 😛 😡 ❤ (U+1F61B, U+1F621 as surrogate pairs; U+2764 as a plain reference) and accents.
_DECORATIONS = ("&#55357;&#56859;", "&#55357;&#56865;", "&#10084;", "café", "&amp;",
                "&quot;ok&quot;")
_MMS_EVERY = 100
_IMAGE_SIDE = 56


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _body(rng: random.Random, n: int) -> str:
    body = _escape(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 30))))
    if n % 7 == 0:
        body += " " + rng.choice(_DECORATIONS)
    if n % 31 == 0:
        body += "&#10;" + _escape(" ".join(rng.choice(WORDS) for _ in range(5)))
    return body


def _png(rng: random.Random) -> bytes:
    """A valid RGB PNG of noise (so it does not compress), a few kilobytes."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    side = _IMAGE_SIDE
    rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))


def _readable(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d %b %Y %H:%M:%S")


def _sms(rng: random.Random, n: int, ms: int) -> str:
    address, contact = rng.choice(_PEOPLE)
    kind = 1 if rng.random() < 0.6 else 2
    sent = ms - rng.randint(0, 5000) if kind == 1 else 0
    return (
        f'  <sms protocol="0" address="{address}" date="{ms}" type="{kind}" subject="null" '
        f'body="{_body(rng, n)}" toa="null" sc_toa="null" service_center="+447785016005" '
        f'read="1" status="-1" locked="0" date_sent="{sent}" sub_id="1" '
        f'readable_date="{_readable(ms)}" contact_name="{contact}" />\n'
    )


def _mms(rng: random.Random, n: int, ms: int) -> str:
    address, contact = rng.choice(_PEOPLE[:4])
    box = 1 if rng.random() < 0.6 else 2
    sender = address if box == 1 else "insert-address-token"
    receiver = "+447700900999" if box == 1 else address
    image = base64.b64encode(_png(rng)).decode("ascii")
    return (
        f'  <mms date="{ms}" rr="null" sub="null" ct_t="application/vnd.wap.multipart.related" '
        f'read_status="null" seen="1" msg_box="{box}" address="{address}" sub_cs="null" '
        f'resp_st="null" retr_st="null" d_tm="null" text_only="0" exp="null" locked="0" '
        f'm_id="bench-{n}@mms.example" st="null" retr_txt_cs="null" retr_txt="null" '
        f'creator="com.google.android.apps.messaging" date_sent="{ms // 1000}" read="1" '
        f'm_size="{len(image)}" rpt_a="null" ct_cls="null" pri="129" sub_id="1" tr_id="null" '
        f'resp_txt="null" ct_l="null" m_cls="personal" d_rpt="129" v="18" _id="{n}" '
        f'm_type="{132 if box == 1 else 128}" readable_date="{_readable(ms)}" '
        f'contact_name="{contact}">\n'
        f'    <parts>\n'
        f'      <part seq="-1" ct="application/smil" name="null" chset="null" cd="null" '
        f'fn="null" cid="&lt;smil&gt;" cl="smil.xml" ctt_s="null" ctt_t="null" '
        f'text="&lt;smil&gt;&lt;body&gt;&lt;par dur=&quot;5000ms&quot;&gt;&lt;img '
        f'src=&quot;image{n}.png&quot;/&gt;&lt;/par&gt;&lt;/body&gt;&lt;/smil&gt;" />\n'
        f'      <part seq="0" ct="image/png" name="null" chset="null" cd="null" fn="null" '
        f'cid="&lt;image{n}&gt;" cl="image{n}.png" ctt_s="null" ctt_t="null" text="null" '
        f'data="{image}" />\n'
        f'      <part seq="0" ct="text/plain" name="null" chset="106" cd="null" fn="null" '
        f'cid="&lt;text0&gt;" cl="text0.txt" ctt_s="null" ctt_t="null" '
        f'text="{_body(rng, n)}" />\n'
        f'    </parts>\n'
        f'    <addrs>\n'
        f'      <addr address="{sender}" type="137" charset="106" />\n'
        f'      <addr address="{receiver}" type="151" charset="106" />\n'
        f'    </addrs>\n'
        f'  </mms>\n'
    )


def sms_backup(path: Path, messages: int, seed: int = 5) -> int:
    """Write ``messages`` records (about 1% MMS) to ``path``; returns the count written."""
    rng = random.Random(seed)
    ms = 1_672_560_000_000  # 2023-01-01T08:00:00Z
    with path.open("w", encoding="utf-8", newline="\n") as out:
        out.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
                  "<!--File Created By SMS Backup & Restore v10.20.002 on 01/06/2024 "
                  "09:00:00-->\n"
                  '<?xml-stylesheet type="text/xsl" href="sms.xsl"?>\n'
                  f'<smses count="{messages}" backup_set="3f2b7c1e-5a4d-4b8e-9c61-0d2e7f9a1b34" '
                  f'backup_date="1717232400000" type="full">\n')
        for n in range(messages):
            ms += rng.randint(1_000, 600_000)
            out.write(_mms(rng, n, ms) if n % _MMS_EVERY == _MMS_EVERY - 1 else _sms(rng, n, ms))
        out.write("</smses>\n")
    return messages

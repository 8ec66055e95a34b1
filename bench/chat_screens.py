"""Phone-sized chat screenshots with known text, for the OCR bench and test fixtures.

Drawn like a messaging app at 1080 px wide (status bar, header with the contact's
name, a date chip, incoming and outgoing bubbles with the time under each text,
an input bar), at text sizes a phone really uses (~42 px body, ~29 px times), so
the bench measures OCR on what officers will be handed, not on poster-sized text.
Every drawn string's box is returned as ground truth.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Bubble:
    text: str
    time: str
    outgoing: bool
    sender: str | None = None  # group chats label incoming bubbles with the sender


@dataclass(frozen=True)
class ChatScreen:
    contact: str
    status: str
    date_chip: str
    bubbles: tuple[Bubble, ...]
    clock: str = "21:47"


@dataclass
class Drawn:
    """Ground truth: what was drawn where (boxes as x0, y0, x1, y1 in pixels)."""

    image: Image.Image
    messages: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    times: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    header: str = ""


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = FONT_DIR / name
    if path.is_file():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def render(screen: ChatScreen, width: int = 1080, height: int = 2340) -> Drawn:
    """Draw ``screen``; sizes scale with ``width`` (1080 is a common phone)."""
    k = width / 1080
    body, small, name_font = _font(round(42 * k)), _font(round(29 * k)), _font(round(46 * k), True)
    label_font = _font(round(34 * k), True)
    image = Image.new("RGB", (width, height), (236, 229, 221))
    draw = ImageDraw.Draw(image)
    drawn = Drawn(image=image, header=screen.contact)

    # Status bar and header.
    draw.rectangle((0, 0, width, round(70 * k)), fill=(5, 94, 84))
    draw.text((round(40 * k), round(18 * k)), screen.clock, font=small, fill="white")
    draw.text((width - round(120 * k), round(18 * k)), "87%", font=small, fill="white")
    draw.rectangle((0, round(70 * k), width, round(230 * k)), fill=(7, 94, 84))
    draw.ellipse((round(90 * k), round(95 * k), round(200 * k), round(205 * k)),
                 fill=(200, 200, 200))
    draw.text((round(230 * k), round(100 * k)), screen.contact, font=name_font, fill="white")
    draw.text((round(230 * k), round(160 * k)), screen.status, font=small, fill=(220, 240, 235))

    # Date chip.
    y = round(270 * k)
    chip_w = draw.textlength(screen.date_chip, font=small) + round(40 * k)
    x0 = (width - chip_w) / 2
    draw.rounded_rectangle((x0, y, x0 + chip_w, y + round(56 * k)), radius=round(14 * k),
                           fill=(225, 242, 251))
    draw.text((x0 + round(20 * k), y + round(12 * k)), screen.date_chip, font=small,
              fill=(80, 80, 80))
    y += round(100 * k)

    line_h = round(54 * k)
    max_text = round(width * 0.72)
    bottom_limit = height - round(190 * k)
    for bubble in screen.bubbles:
        lines = _wrap(draw, bubble.text, body, max_text)
        text_w = max(draw.textlength(line, font=body) for line in lines)
        label_h = line_h if bubble.sender else 0
        if bubble.sender:
            text_w = max(text_w, draw.textlength(bubble.sender, font=label_font))
        time_w = draw.textlength(bubble.time, font=small)
        inner_w = max(text_w, time_w)
        pad = round(26 * k)
        box_h = pad + label_h + line_h * len(lines) + round(44 * k) + pad // 2
        if y + box_h > bottom_limit:
            break
        box_w = inner_w + 2 * pad
        left = width - box_w - round(30 * k) if bubble.outgoing else round(30 * k)
        fill = (220, 248, 198) if bubble.outgoing else (255, 255, 255)
        draw.rounded_rectangle((left, y, left + box_w, y + box_h), radius=round(22 * k),
                               fill=fill)
        tx, ty = left + pad, y + pad
        if bubble.sender:
            draw.text((tx, ty), bubble.sender, font=label_font, fill=(180, 60, 120))
            ty += label_h
        top = ty
        for line in lines:
            draw.text((tx, ty), line, font=body, fill=(20, 20, 20))
            ty += line_h
        drawn.messages.append((bubble.text, (int(tx), top, int(tx + text_w), ty)))
        time_x = left + box_w - pad - time_w
        draw.text((time_x, ty + round(4 * k)), bubble.time, font=small, fill=(110, 110, 110))
        drawn.times.append((bubble.time, (int(time_x), int(ty), int(time_x + time_w),
                                          int(ty + round(40 * k)))))
        y += box_h + round(24 * k)

    # Input bar.
    draw.rectangle((0, height - round(150 * k), width, height), fill=(240, 240, 240))
    draw.rounded_rectangle((round(30 * k), height - round(130 * k), width - round(160 * k),
                            height - round(40 * k)), radius=round(45 * k), fill="white")
    draw.text((round(80 * k), height - round(108 * k)), "Message", font=body,
              fill=(150, 150, 150))
    return drawn


_NAMES = ["Sam Taylor", "Alex Morgan", "Jordan Blake", "Chris Evans", "Robin Hale",
          "Jamie Price", "Casey Lowe", "Morgan Reid", "Taylor Quinn", "Drew Fenton"]
_OPENERS = ["I saw you", "Why did you", "Don't ignore me", "You said", "Meet me",
            "I know", "Stop telling people", "Answer the phone", "Where were you",
            "I'll be waiting", "Call me back", "I drove past", "Tell your sister"]
_MIDDLES = ["at the station", "outside number 14", "near Baker Street", "by the park gate",
            "after work", "on Friday night", "at 7:30", "with your friends", "in the car park",
            "at the Red Lion", "on the 52 bus", "at your mum's", "by platform 3"]
_ENDINGS = ["again.", "tonight!", "or else.", "ok?", "right now.", "- it's not over.",
            "(you know why).", "today, not tomorrow.", "... I mean it.", "& you know it.",
            "for the 3rd time!", "at 10pm sharp.", "#notfinished"]
_REPLIES = ["Please leave me alone.", "I've told you to stop messaging me.",
            "Who gave you this number?", "I'm calling the police if this continues.",
            "Stop. I don't want any contact.", "I blocked you on Instagram for a reason.",
            "Do not come to my house again.", "This is harassment, Sam."]


def random_text(rng: random.Random, outgoing: bool) -> str:
    if outgoing and rng.random() < 0.6:
        return rng.choice(_REPLIES)
    parts = [rng.choice(_OPENERS), rng.choice(_MIDDLES)]
    if rng.random() < 0.5:
        parts.append(rng.choice(_MIDDLES))
    parts.append(rng.choice(_ENDINGS))
    return " ".join(parts)


def random_screen(rng: random.Random, bubbles: int = 9) -> ChatScreen:
    hour, minute = rng.randint(0, 22), rng.randint(0, 50)
    items = []
    for _ in range(bubbles):
        outgoing = rng.random() < 0.4
        items.append(Bubble(random_text(rng, outgoing), f"{hour:02d}:{minute:02d}", outgoing))
        minute += rng.randint(0, 3)
        if minute > 59:
            hour, minute = (hour + 1) % 24, minute - 60
    day = rng.randint(1, 28)
    month = rng.choice(["January", "February", "March", "April", "May", "June", "July"])
    return ChatScreen(contact=rng.choice(_NAMES), status="online",
                      date_chip=f"{day} {month} 2024", bubbles=tuple(items),
                      clock=f"{hour:02d}:{minute:02d}")

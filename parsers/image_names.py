"""What an image's file name says: screenshot or saved media, when, and from which app.

Phones and desktops name screenshots and saved media after the moment they were
made, in the device's local time (no zone), and Android appends the foreground
app. These conventions are the only time an Android screenshot carries (it has
no EXIF), and the only trace of a messaging app on media it re-encoded.

Sources for the conventions (see also shared/reference/formats.md section 9):
AOSP/Pixel ``Screenshot_20240312-221503.png``; newer AOSP and One UI
``Screenshot_20240720_020223_<App label>.jpg``; Samsung
``Screenshot_20240312-221503_WhatsApp.jpg``; Xiaomi/MIUI
``Screenshot_2024-03-12-22-15-03-123_com.whatsapp.jpg`` (milliseconds and
package); ColorOS/OxygenOS put a 32-hex hash of the package there instead;
Windows ``Screenshot 2024-03-12 221503.png``; macOS ``Screenshot 2024-03-12 at
22.15.03.png`` (older ``Screen Shot ... 10.15.03 PM.png``, localised prefixes);
GNOME ``Screenshot from 2024-03-12 22-15-03.png``; iOS ``IMG_1234.PNG`` (no
time). Media: WhatsApp ``IMG-20240312-WA0001.jpg`` (day stored on the device),
WhatsApp iOS exports ``00000012-PHOTO-2024-03-12-22-16-05.jpg`` (the message's
time), WhatsApp Desktop ``WhatsApp Image 2024-03-12 at 22.16.05.jpeg``,
Telegram Desktop ``photo_2024-03-12_22-15-03.jpg`` and its export
``photo_1@12-03-2024_22-15-03.jpg``, Facebook ``FB_IMG_<epoch ms>.jpg``,
Messenger ``received_<id>.jpeg`` (an id, not a time), Signal
``signal-2024-03-12-221503.jpg``; cameras ``IMG_20240312_221503.jpg``,
Samsung ``20240312_221503.jpg`` and Pixel ``PXL_20240312_221503123.jpg``
(reported to be UTC rather than local time).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from parsers.records import Precision, TimeBasis

#: App labels and package names as Android writes them -> the channel name used
#: across Conduct's timeline.
KNOWN_APPS: dict[str, str] = {
    "whatsapp": "whatsapp", "com.whatsapp": "whatsapp", "com.whatsapp.w4b": "whatsapp",
    "whatsapp business": "whatsapp",
    "instagram": "instagram", "com.instagram.android": "instagram",
    "messenger": "messenger", "com.facebook.orca": "messenger",
    "facebook": "facebook", "com.facebook.katana": "facebook", "com.facebook.lite": "facebook",
    "telegram": "telegram", "org.telegram.messenger": "telegram",
    "org.telegram.messenger.web": "telegram",
    "snapchat": "snapchat", "com.snapchat.android": "snapchat",
    "x": "x", "twitter": "x", "com.twitter.android": "x",
    "tiktok": "tiktok", "com.zhiliaoapp.musically": "tiktok", "com.ss.android.ugc.trill": "tiktok",
    "signal": "signal", "org.thoughtcrime.securesms": "signal",
    "discord": "discord", "com.discord": "discord",
    "messages": "sms", "com.google.android.apps.messaging": "sms",
    "com.samsung.android.messaging": "sms", "com.android.mms": "sms",
    "phone": "call", "com.google.android.dialer": "call",
    "com.samsung.android.dialer": "call",
    "gmail": "email", "com.google.android.gm": "email",
    "outlook": "email", "com.microsoft.office.outlook": "email",
    "linkedin": "linkedin", "com.linkedin.android": "linkedin",
    "tinder": "tinder", "com.tinder": "tinder",
    "hinge": "hinge", "co.hinge.app": "hinge",
    "bumble": "bumble", "com.bumble.app": "bumble",
    "viber": "viber", "com.viber.voip": "viber",
}

_COPY_SUFFIX = re.compile(r"(?:\s*\(\d{1,4}\)|~\d{1,4}|-\d{1,2}|_\d{1,2})$")
_HEX32 = re.compile(r"[0-9a-f]{32}", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NameInfo:
    """What the name says. ``local`` is device wall-clock time; ``instant`` an epoch."""

    convention: str
    screenshot: bool
    local: datetime | None = None
    instant: datetime | None = None
    precision: Precision = "second"
    #: The part of the name the time was read from, exactly as written.
    text: str = ""
    #: The app as the name gives it (label or package).
    app: str | None = None
    #: Conduct's channel for that app or messaging service.
    channel: str | None = None
    #: For media saved by a messaging app: what the name's time means.
    time_basis: TimeBasis | None = None
    #: A ColorOS-style hash standing in for the package.
    app_hash: str | None = None

    @property
    def has_time(self) -> bool:
        return self.local is not None or self.instant is not None


def _clock(year: str, month: str, day: str, hour: str = "0", minute: str = "0",
           second: str = "0", fraction: str = "", meridiem: str | None = None) -> datetime | None:
    try:
        hours = int(hour)
        if meridiem:
            if not 1 <= hours <= 12:
                return None
            hours = hours % 12 + (12 if meridiem.lower().startswith("p") else 0)
        micro = int(fraction.ljust(6, "0")[:6]) if fraction else 0
        moment = datetime(  # noqa: DTZ001 - device wall-clock time, zone unknown
            int(year), int(month), int(day), hours, int(minute), int(second), micro)
    except ValueError:
        return None
    # Years outside phones' lifetime are a counter that happens to look like a date.
    return moment if 1990 <= moment.year <= 2100 else None


def channel_of(app: str | None) -> str | None:
    """The channel for an app: a known service's name, else the label lower-cased."""
    if not app:
        return None
    key = app.strip().lower()
    if key in KNOWN_APPS:
        return KNOWN_APPS[key]
    # An unknown package name says little; an unknown label is still the app's name.
    return None if "." in key else key[:30]


def _app_suffix(suffix: str | None) -> tuple[str | None, str | None]:
    """(app, hash) from what follows the time in an Android screenshot's name."""
    if not suffix:
        return None, None
    suffix = _COPY_SUFFIX.sub("", suffix.strip(" _-")).strip(" _-")
    if _HEX32.fullmatch(suffix):
        return None, suffix.lower()
    # A bare number is a duplicate counter, not an app.
    return (None if not suffix or suffix.isdigit() else suffix), None


_MERIDIEM = r"(?:[\s\u202f\u00a0]?(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_MAC_WORDS = (r"(?P<prefix>Screenshot|Screen Shot|Bildschirmfoto|Capture d[’']écran|"
              r"Captura de pantalla|Schermafbeelding|Istantanea schermo|Skärmavbild|"
              r"Skjermbilde|Skærmbillede|Zrzut ekranu|Снимок экрана)")
_MAC_AT = r"(?:at|um|à|a las|om|alle|kl\.|o|в)"

#: (convention, pattern over the stem, screenshot?). Order matters: specific first.
_PATTERNS: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    ("android_screenshot", re.compile(
        r"(?i)screenshot[_-](?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-(?P<mi>\d{2})-"
        r"(?P<s>\d{2})(?:-(?P<ms>\d{1,3}))?(?:_(?P<app>.+))?"), True),
    ("android_screenshot", re.compile(
        r"(?i)screenshot[_-](?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})[-_](?P<h>\d{2})(?P<mi>\d{2})"
        r"(?P<s>\d{2})(?:[-_](?P<ms>\d{3})(?=_|$))?(?:[_-](?P<app>.+))?"), True),
    ("macos_screenshot", re.compile(
        _MAC_WORDS + r" (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}),? " + _MAC_AT
        + r" (?P<h>\d{1,2})[.:](?P<mi>\d{2})[.:](?P<s>\d{2})" + _MERIDIEM), True),
    ("linux_screenshot", re.compile(
        r"(?i)screenshot from (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}) (?P<h>\d{2})-(?P<mi>\d{2})-"
        r"(?P<s>\d{2})"), True),
    ("windows_screenshot", re.compile(
        r"(?i)screenshot (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}) (?P<h>\d{2})(?P<mi>\d{2})"
        r"(?P<s>\d{2})(?:_.*)?"), True),
    ("chromeos_screenshot", re.compile(
        r"(?i)screenshot (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}) (?P<h>\d{1,2})\.(?P<mi>\d{2})\."
        r"(?P<s>\d{2})" + _MERIDIEM), True),
    ("whatsapp_media", re.compile(
        r"(?P<kind>IMG|STK|VID|GIF)-(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})-WA\d{4,}"), False),
    ("whatsapp_ios_media", re.compile(
        r"\d{8}-(?P<kind>PHOTO|STICKER|GIF)-(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-"
        r"(?P<mi>\d{2})-(?P<s>\d{2})"), False),
    ("whatsapp_desktop_media", re.compile(
        r"WhatsApp Image (?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2}) at (?P<h>\d{1,2})\.(?P<mi>\d{2})"
        r"\.(?P<s>\d{2})" + _MERIDIEM + r"(?:_[0-9a-f]{8})?"), False),
    ("telegram_export_media", re.compile(
        r"photo_\d+@(?P<d>\d{2})-(?P<mo>\d{2})-(?P<y>\d{4})_(?P<h>\d{2})-(?P<mi>\d{2})-"
        r"(?P<s>\d{2})"), False),
    ("telegram_media", re.compile(
        r"photo_(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})_(?P<h>\d{2})-(?P<mi>\d{2})-(?P<s>\d{2})"),
        False),
    ("facebook_media", re.compile(r"FB_IMG_(?P<epoch_ms>\d{13})"), False),
    ("messenger_media", re.compile(r"received_\d{15,20}"), False),
    ("signal_media", re.compile(
        r"signal-(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-?(?P<mi>\d{2})-?(?P<s>\d{2})"
        r"(?:-(?P<ms>\d{3}))?"), False),
    ("pixel_camera", re.compile(
        r"PXL_(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})_(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})"
        r"(?P<ms>\d{3})(?:[._].*)?"), False),
    ("android_camera", re.compile(
        r"(?:IMG|PANO|MVIMG|BURST\d*)_(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})_(?P<h>\d{2})"
        r"(?P<mi>\d{2})(?P<s>\d{2})(?:_.*)?"), False),
    ("samsung_camera", re.compile(
        r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})_(?P<h>\d{2})(?P<mi>\d{2})(?P<s>\d{2})"), False),
    ("ios_camera_roll", re.compile(r"IMG_[0-9]{4}|IMG_E[0-9]{4}"), False),
    # Last: a screenshot's name whose time is missing or is no real time.
    ("screenshot_without_time", re.compile(
        r"(?i)(?:screenshot|screen[ _]shot|bildschirmfoto|schermafbeelding|"
        r"capture d[’']écran|captura de pantalla)(?:[\s_-].*|\s*\(\d+\))?"), True),
)

#: Messaging services whose saved media a convention identifies.
_MEDIA_CHANNEL = {
    "whatsapp_media": "whatsapp", "whatsapp_ios_media": "whatsapp",
    "whatsapp_desktop_media": "whatsapp", "telegram_export_media": "telegram",
    "telegram_media": "telegram", "facebook_media": "facebook",
    "messenger_media": "messenger", "signal_media": "signal",
}
#: What a media name's time means. WhatsApp's iOS export and Telegram's export
#: name media after the message's own time stamp, the same time the chat text
#: shows, so "sent" as for the chat's messages. The others are named when the
#: app stored the file on the device that was handed over: for media from
#: someone else that is when it arrived ("received"); the name cannot say whose
#: media it was, which the chat export that mentions it can.
_MEDIA_BASIS: dict[str, TimeBasis] = {
    "whatsapp_ios_media": "sent", "telegram_export_media": "sent",
    "whatsapp_media": "received", "whatsapp_desktop_media": "received",
    "telegram_media": "received", "facebook_media": "received", "signal_media": "received",
}


def stem_of(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Multi-part extensions (PXL_..._NIGHT.jpg, .MP.jpg) keep their inner dots.
    return base.rsplit(".", 1)[0] if "." in base else base


def read_name(name: str) -> NameInfo | None:
    """The convention ``name`` follows, or None when it follows none known here."""
    stem = stem_of(name).strip()
    # A copy's counter (" (2)", "~2") is tried without, convention by convention.
    candidates = (stem, _COPY_SUFFIX.sub("", stem))
    for convention, pattern, screenshot in _PATTERNS:
        for candidate in candidates:
            match = pattern.fullmatch(candidate)
            if match is not None:
                info = _info(convention, match, screenshot)
                if info is not None:
                    return info
    return None


def _info(convention: str, match: re.Match[str], screenshot: bool) -> NameInfo | None:
    groups = match.groupdict()
    channel = _MEDIA_CHANNEL.get(convention)
    basis = _MEDIA_BASIS.get(convention)
    if groups.get("epoch_ms"):
        ms = int(groups["epoch_ms"])
        instant = datetime.fromtimestamp(ms / 1000, UTC)
        return NameInfo(convention, screenshot, instant=instant, precision="subsecond",
                        text=groups["epoch_ms"], channel=channel, time_basis=basis)
    if "y" not in groups:
        return NameInfo(convention, screenshot, channel=channel, time_basis=basis)
    if "h" not in groups:
        moment = _clock(groups["y"], groups["mo"], groups["d"])
        if moment is None:
            return None
        return NameInfo(convention, screenshot, local=moment, precision="day",
                        text=f"{groups['y']}{groups['mo']}{groups['d']}", channel=channel,
                        time_basis=basis)
    fraction = groups.get("ms") or ""
    moment = _clock(groups["y"], groups["mo"], groups["d"], groups["h"], groups["mi"],
                    groups["s"], fraction, groups.get("ampm"))
    if moment is None:
        return None
    start = min(match.span(g)[0] for g in ("y", "mo", "d"))
    end = max(match.span(g)[1] for g in ("s", "ms", "ampm") if groups.get(g))
    text = match.string[start:end]
    app, app_hash = _app_suffix(groups.get("app"))
    precision: Precision = "subsecond" if fraction else "second"
    if convention == "pixel_camera":
        # Pixel camera names carry UTC, not the device's local time [reported].
        return NameInfo(convention, screenshot, instant=moment.replace(tzinfo=UTC),
                        precision=precision, text=text)
    return NameInfo(convention, screenshot, local=moment, precision=precision, text=text,
                    app=app, channel=channel or channel_of(app), time_basis=basis,
                    app_hash=app_hash)

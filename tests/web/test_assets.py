"""Police networks have no CDN access: every asset comes from the app itself."""

import re
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent.parent / "web"
_EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["'](?:https?:)?//""", re.I)


def test_templates_load_nothing_from_other_sites():
    offenders = [f"{path.name}: {m.group(0)}" for path in (WEB / "templates").rglob("*.html")
                 for m in _EXTERNAL.finditer(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_stylesheet_and_script_fetch_nothing_from_outside():
    for path in (WEB / "static").iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path.name
        assert "@import" not in text and "@font-face" not in text, path.name


def test_every_asset_a_page_uses_is_served(app, signed_in, make_case):
    make_case("OP-1")
    user = signed_in("officer", "OP-1")
    page = user.get("/cases/OP-1").text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert sorted(set(assets)) == ["/static/conduct.css", "/static/conduct.js"]
    for asset in assets:
        assert user.get(asset).status_code == 200

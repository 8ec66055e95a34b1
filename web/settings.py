"""What an installation may tune: timeouts, lockout, limits. Defaults suit a police network."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class WebSettings:
    #: A session ends after this long without a request, and after ``absolute_timeout`` anyway.
    idle_timeout: timedelta = timedelta(minutes=30)
    absolute_timeout: timedelta = timedelta(hours=12)
    #: Consecutive wrong passwords before an account is locked, and for how long.
    max_failed_logins: int = 5
    lockout: timedelta = timedelta(minutes=15)
    #: Sign-in attempts one address may make within ``ip_window`` (any account).
    ip_attempts: int = 30
    ip_window: timedelta = timedelta(minutes=10)
    #: None: Secure cookies whenever the request came over https.
    secure_cookies: bool | None = None
    #: One officer upload (all files together).
    max_upload_bytes: int = 50 * GIB
    max_upload_files: int = 500
    #: Defaults offered when an officer creates a victim upload link.
    link_hours: int = 72
    link_max_bytes: int = 2 * GIB
    link_max_files: int = 50
    page_size: int = 100
    #: Where "Leave this site" goes: somewhere ordinary to be seen visiting.
    exit_url: str = "https://www.bbc.co.uk/weather"
    #: argon2id cost; tests lower it, installations keep the library's defaults.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4

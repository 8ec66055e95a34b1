#!/bin/sh
# System tools the tests use that pip cannot install: poppler-utils (pdftoppm,
# pdftotext, pdfinfo) renders the case-file PDFs to prove they open and read as
# they should; chromium is the browser the web app's Playwright tests drive by
# its path (/usr/bin/chromium: Playwright never downloads a browser here).
# Installed with apt-get when missing and we are root; otherwise a warning, and
# the tests that need them fail with a message naming the package.
missing=""
{ command -v pdftoppm && command -v pdftotext; } >/dev/null 2>&1 || missing="poppler-utils"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing$missing (used by the case-file and browser tests)"
	# The package lists of a fresh machine may be empty or stale: update first.
	# shellcheck disable=SC2086 # one word per package
	(apt-get update -qq >/dev/null 2>&1 && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1) \
		&& exit 0
fi
echo "warning:$missing missing (apt-get install$missing); the tests that need them will fail" >&2
exit 0

#!/bin/sh
# python-magic needs the libmagic C library. Debian/Ubuntu images usually have it;
# when they do not and we may use apt-get, install it rather than fail later.
PY="$1"
"$PY" -c 'import magic; magic.Magic(mime=True)' 2>/dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "installing libmagic1 (needed by python-magic)"
	(apt-get install -y -qq libmagic1 >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq libmagic1 >/dev/null 2>&1; }) \
		&& exit 0
fi
echo "warning: libmagic not found; Conduct falls back to its own signature table for MIME types" >&2
exit 0

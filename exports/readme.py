"""README.txt of the bundle: what is in it and how to check it without Conduct."""

from __future__ import annotations

NAME = "README.txt"

_TEXT = """\
Conduct case file: case {ref}{redacted_title}

This case file was exported by Conduct, an evidence collector for stalking and
harassment cases. Every file in it is listed with its size and SHA-256 in
manifest.json, and manifest.json is signed with the Conduct store's Ed25519 key.

Contents
  exhibits/             the originals, byte for byte as received, named by exhibit
                        reference; items found inside another item follow it
                        (JS-1-1 was inside JS-1){original_names}
  exhibits.csv, .pdf    the exhibit list (MG12 fields: reference, description,
                        where and when found or received, from whom, by whom,
                        SHA-256)
  timeline.csv, .pdf    every event in UTC order with its exhibit and locator
  timeline.jsonl        the same events for Timesketch (message, datetime,
                        timestamp, timestamp_desc and Conduct's own fields)
  course_of_conduct.pdf the pattern analysis with its cited events and flags,
                        dismissed flags listed
  charts/               the charts of the pattern analysis (PNG and SVG)
  custody.csv, .pdf     continuity: the case's custody log with its hash chain
  witness_statement*    a DRAFT s.9 statement for the officer who received the
                        exhibits, to be completed and signed (PDF and text)
  disclosure_aid.csv, .pdf
                        material held but not used, with reasons, to help with
                        the unused-material schedule
  facts.csv             facts derived from the originals (EXIF, e-mail hops, ...)
{redaction_line}  manifest.json         every file above: path, size, SHA-256; originals are
                        marked "unredacted": true
  signature/            manifest.sig (Ed25519 signature of manifest.json, 64 raw
                        bytes), public_key.pem, fingerprint.txt
  SHA256SUMS            SHA-256 of every other file, for sha256sum -c

How to check it without Conduct
1. Unpack the ZIP into an empty folder and, in that folder, run
       sha256sum -c SHA256SUMS
   Every line must end in OK. SHA256SUMS covers every file, including
   manifest.json and the signature files.
2. Check the signature of the manifest (OpenSSL 3.0 or later):
       openssl pkeyutl -verify -pubin -inkey signature/public_key.pem \\
           -rawin -in manifest.json -sigfile signature/manifest.sig
   It must print "Signature Verified Successfully".
3. Check that the key is the one the officer's statement names:
       openssl pkey -pubin -in signature/public_key.pem -outform DER \\
           | tail -c 32 | sha256sum
   gives the fingerprint (SHA-256 of the raw 32-byte public key) that
   signature/fingerprint.txt shows in groups of four. For this bundle:
       {fingerprint}
   Compare it with the fingerprint in the signed witness statement: a bundle
   altered and signed again with another key has another fingerprint.
4. Check manifest.json lists every file with the size and SHA-256 you find
   (sha256sum, ls -l); nothing outside manifest.json, SHA256SUMS and
   signature/ should be in the bundle.
5. Continuity: in custody.csv each entry_hash is the SHA-256 of the previous
   entry's hash (64 hex characters, as ASCII; 64 zeros for the first entry)
   followed by the canonical JSON of the entry: the object with the keys
   action, actor, at, chain, details (the JSON in the details column), seq and
   subject, keys sorted, no spaces, UTF-8, non-ASCII characters unescaped.{custody_note}

With Conduct: conduct verify-bundle FILE.zip [--fingerprint "xxxx xxxx ..."]
"""

_REDACTION = """\
  redaction_log.csv     what was redacted: token, kind, file, field, count (never
                        the value redacted)
"""


def text(case_ref: str, fingerprint: str, redacted: bool) -> str:
    return _TEXT.format(
        ref=case_ref, fingerprint=fingerprint,
        redacted_title=" (REDACTED COPY)" if redacted else "",
        original_names=("; named by reference only in this redacted copy, and NOT\n"
                        "                        redacted: originals are never altered"
                        if redacted else ""),
        redaction_line=_REDACTION if redacted else "",
        custody_note=("\n   In this redacted copy the details are redacted, so the hashes can\n"
                      "   be recomputed only from an unredacted export of the same case."
                      if redacted else ""),
    )

"""A draft witness statement (s.9 Criminal Justice Act 1967) for the officer who
received the exhibits, producing each one with its hash and how it was obtained.

Conduct fills in only what it knows (who handed what over, when, its SHA-256,
the signing key's fingerprint) and leaves bracketed gaps for the officer; it is
a draft to be checked, completed and signed, never a finished statement.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADING = "WITNESS STATEMENT"
AUTHORITY = ("(Criminal Procedure Rules, r. 16.2; Criminal Justice Act 1967, s. 9; "
             "Magistrates' Courts Act 1980, s. 5B)")
DECLARATION = (
    "This statement (consisting of {pages} page(s) each signed by me) is true to the best of "
    "my knowledge and belief and I make it knowing that, if it is tendered in evidence, I "
    "shall be liable to prosecution if I have wilfully stated in it anything which I know to "
    "be false, or do not believe to be true.")
TO_COMPLETE = "[to be completed by the officer]"


@dataclass(frozen=True)
class ProducedExhibit:
    ref: str
    description: str
    file_name: str
    sha256: str
    size: int
    received_from: str
    received_at: str
    how_obtained: str
    parent_ref: str | None
    member_path: str | None
    duplicate_of: str | None


@dataclass(frozen=True)
class Statement:
    officer: str
    case_ref: str
    case_title: str
    exhibits: tuple[ProducedExhibit, ...]
    fingerprint: str

    def header_fields(self) -> list[tuple[str, str]]:
        return [
            ("URN", f"{TO_COMPLETE} (Conduct case {self.case_ref})"),
            ("Statement of", self.officer),
            ("Age if under 18", "Over 18"),
            ("Occupation", f"Police officer {TO_COMPLETE}"),
        ]

    def body(self) -> list[str]:
        """Paragraphs of the statement's body, one exhibit per paragraph."""
        tops = [e for e in self.exhibits if e.parent_ref is None]
        first = min((e.received_at for e in tops), default="")
        paragraphs = [
            f"I am {self.officer}, {TO_COMPLETE}: rank, number and station. This statement "
            f"concerns material in case {self.case_ref} ({self.case_title}).",
            f"From {first[:10] or TO_COMPLETE} I received the items listed below. I stored "
            "each one with the Conduct evidence collector, which computed the SHA-256 hash of "
            "its bytes when it was received and keeps the bytes unaltered. Items found inside "
            "another item (the members of an archive, the attachments of a message) were "
            "extracted by Conduct and given exhibit references of their own. I produce them "
            "as follows.",
        ]
        for exhibit in self.exhibits:
            paragraphs.append(_produced(exhibit))
        paragraphs += [
            "The case file holding these exhibits lists every file with its size and SHA-256 "
            "hash in manifest.json, which is signed with the Ed25519 key of the Conduct store "
            "the exhibits are held in. The fingerprint of that key (the SHA-256 of the raw "
            f"public key) is {self.fingerprint}. The README.txt in the case file explains how "
            "to check the hashes and the signature without Conduct.",
            f"{TO_COMPLETE}: how and where each item was handed over, by whom, the condition "
            "of any device, and the continuity of the material since.",
        ]
        return paragraphs

    def text(self) -> str:
        """The statement as plain text, to be completed in any editor."""
        rule = "-" * 78
        lines = [HEADING, AUTHORITY, ""]
        lines += [f"{name}: {value}" for name, value in self.header_fields()]
        lines += ["", DECLARATION.format(pages="___"), "",
                  "Signature: ..................................   Date: ....................",
                  rule, ""]
        for paragraph in self.body():
            lines += [paragraph, ""]
        lines += [rule,
                  "Signature: ..................................   "
                  "Signature witnessed by: ..................................", ""]
        return "\n".join(lines)


def _produced(exhibit: ProducedExhibit) -> str:
    head = f"Exhibit {exhibit.ref}: {exhibit.description} (file \"{exhibit.file_name}\", " \
           f"{exhibit.size} bytes)."
    if exhibit.parent_ref is not None:
        inside = exhibit.member_path or exhibit.file_name
        how = (f"Found inside exhibit {exhibit.parent_ref} as \"{inside}\" and extracted by "
               f"Conduct on {exhibit.received_at}.")
    else:
        source = exhibit.received_from or TO_COMPLETE
        how = (f"Received from {source} on {exhibit.received_at}; how obtained: "
               f"{exhibit.how_obtained or TO_COMPLETE}.")
    same = (f" These are the same bytes as exhibit {exhibit.duplicate_of}."
            if exhibit.duplicate_of else "")
    return f"{head} {how}{same} SHA-256: {exhibit.sha256}."


def received_at_text(moment_utc_z: str) -> str:
    return moment_utc_z.replace("T", " ").replace("Z", " UTC")


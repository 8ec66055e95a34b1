"""Uploads arrive as streams (the web app's victim link), not as paths."""

import io

from collector.intake import IngestOptions, Ingestor
from evidence_store import cases
from tests.test_ingest_cli import CHAT


def test_an_upload_stream_is_stored_and_parsed_like_a_file(store):
    with store.session() as session:
        cases.create_case(session, "OP-1", "t", "Jane Smith", "JS")
    ingestor = Ingestor(store, "OP-1", IngestOptions(received_by="Jane Smith",
                                                     received_from="upload link"))
    outcome = ingestor.ingest_stream(io.BytesIO(CHAT.encode()), "chat.txt")
    assert (outcome.ref, outcome.format, outcome.status, outcome.events) == (
        "JS/1", "whatsapp", "parsed", 4)

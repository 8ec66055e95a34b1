"""Redaction of third parties, value by value."""

from exports.redaction import Parties, Redactor

PARTIES = Parties(
    region="GB",
    protected_ids=frozenset({"+447700900123", "alex@example.org", "name:alex morgan"}),
    protected_names=frozenset({("alex", "morgan"), ("sam", "taylor")}),
    third_names={("joanne", "witness"): "joanne witness", ("joanne",): "joanne witness",
                 ("mum",): "mum", ("jo",): "jo"},
    third_ids=frozenset({"instagram:jo_w"}),
)


def _redactor() -> Redactor:
    return Redactor(PARTIES)


def test_third_party_numbers_become_the_same_token_in_any_format():
    redactor = _redactor()
    one = redactor.text("ring 07700 900999 or +44 7700 900999", "f", "text")
    assert one == "ring [REDACTED-PHONE-1] or [REDACTED-PHONE-1]"
    assert redactor.identifier("+447700900999", "f", "sender_id") == "[REDACTED-PHONE-1]"
    assert redactor.counts[("[REDACTED-PHONE-1]", "PHONE", "f", "text")] == 2


def test_the_victims_and_suspects_details_stay_readable():
    redactor = _redactor()
    text = "Sam Taylor on 07700 900123 wrote to alex@example.org"
    assert redactor.text(text, "f", "text") == text
    assert redactor.identifier("+447700900123", "f", "sender_id") == "+447700900123"
    assert not redactor.counts


def test_names_emails_and_handles_of_third_parties_are_redacted():
    redactor = _redactor()
    assert redactor.text("Mum said Joanne Witness (jo.w@example.net, instagram:jo_w) saw him",
                         "f", "text") == (
        "[REDACTED-NAME-1] said [REDACTED-NAME-2] ([REDACTED-EMAIL-1], [REDACTED-ID-1]) saw him")
    # A two-letter name is too likely to be a word; it is redacted as a sender only.
    assert redactor.text("Jo said no", "f", "text") == "Jo said no"
    assert redactor.person("Jo", None, "f", "sender") == "[REDACTED-NAME-3]"


def test_every_name_of_one_person_gets_one_token():
    redactor = _redactor()
    assert redactor.text("Joanne, or Joanne Witness", "f", "text") == (
        "[REDACTED-NAME-1], or [REDACTED-NAME-1]")
    assert redactor.identifier("name:joanne", "f", "identifiers") == "name:[REDACTED-NAME-1]"


def test_times_dates_hashes_and_epochs_are_not_phone_numbers():
    redactor = _redactor()
    for text in ("Received 2024-03-12T22:15:16.123456Z", "at 22:15:16 on 12/03/2024",
                 "epoch 1710406799000", "sha 3f2a9c0178451234567890123456789012345678",
                 "your code is 123456"):
        assert redactor.text(text, "f", "text") == text


def test_structures_keep_hashes_and_times_but_redact_strings():
    redactor = _redactor()
    value = {"sha256": "07700900999", "occurred_at": "07700900999",
             "note": ["call 07700900999"], "n": 3}
    assert redactor.value(value, "f", "extra") == {
        "sha256": "07700900999", "occurred_at": "07700900999",
        "note": ["call [REDACTED-PHONE-1]"], "n": 3}


def test_the_log_holds_tokens_and_counts_never_values():
    redactor = _redactor()
    redactor.text("Mum: 07700 900999", "timeline", "text")
    rows = redactor.log_rows()
    assert rows == [["[REDACTED-NAME-1]", "NAME", "timeline", "text", "1"],
                    ["[REDACTED-PHONE-1]", "PHONE", "timeline", "text", "1"]]


def test_nothing_changes_when_redaction_is_off():
    redactor = Redactor(None)
    assert redactor.text("Mum 07700 900999", "f", "text") == "Mum 07700 900999"
    assert not redactor.enabled and redactor.log_rows() == []

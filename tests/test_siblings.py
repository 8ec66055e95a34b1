from collector.siblings import SiblingIndex

INDEX = SiblingIndex({
    "WhatsApp Chat/_chat.txt": "c",
    "WhatsApp Chat/IMG-1.jpg": "w",
    "your_facebook_activity/messages/inbox/sam_1/message_1.json": "m",
    "your_facebook_activity/messages/inbox/sam_1/photos/p1.jpg": "p",
    "a/dup.jpg": "d1",
    "b/dup.jpg": "d2",
})


def test_a_name_beside_the_referring_file_is_found():
    assert INDEX.beside("WhatsApp Chat/_chat.txt")["IMG-1.jpg"] == "w"


def test_a_path_from_another_export_root_is_found_by_its_ending():
    thread = INDEX.beside("your_facebook_activity/messages/inbox/sam_1/message_1.json")
    assert thread.get("messages/inbox/sam_1/photos/p1.jpg") == "p"


def test_an_ambiguous_base_name_is_not_guessed():
    assert INDEX.beside("WhatsApp Chat/_chat.txt").get("dup.jpg") is None


def test_a_missing_file_is_absent():
    assert INDEX.beside("x").get("nothing.png") is None

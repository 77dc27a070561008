import sqlite3
import threading
from pathlib import Path

import pytest

from tools import Toolbox
from tools.builtin import NoteNotFoundError, NotesStore, default_notes_path, notes_tools


def test_add_list_search_delete(tmp_path: Path) -> None:
    store = NotesStore(tmp_path / "sub" / "notes.db")
    first = store.add("  Dentist on Tuesday at 10  ")
    second = store.add("Wifi password is hunter2")
    store.add("Buy 100% cocoa")
    assert first.text == "Dentist on Tuesday at 10"
    assert [note.id for note in store.recent(2)] == [3, second.id]
    assert [note.text for note in store.search("tuesday DENTIST")] == [first.text]
    assert store.search("100%")[0].text == "Buy 100% cocoa"
    assert store.search("1_0") == []  # LIKE wildcards are escaped
    assert store.delete(first.id) == first
    with pytest.raises(NoteNotFoundError, match="no note with id 1"):
        store.get(first.id)
    with pytest.raises(ValueError, match="needs some text"):
        store.add("   ")


def test_notes_persist_in_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    NotesStore(path).add("kept")
    assert [note.text for note in NotesStore(path).recent()] == ["kept"]
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT text FROM notes").fetchall() == [("kept",)]


def test_usable_from_several_threads(tmp_path: Path) -> None:
    store = NotesStore(tmp_path / "notes.db")
    threads = [threading.Thread(target=store.add, args=(f"note {i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.recent(50)) == 8


def test_default_path_is_in_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXAGENT_DATA_DIR", "/srv/data")
    assert default_notes_path() == Path("/srv/data/notes.db")
    monkeypatch.delenv("VOXAGENT_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", "/home/u/.data")
    assert NotesStore().path == Path("/home/u/.data/voxagent/notes.db")


async def test_tools_write_only_with_approval(tmp_path: Path) -> None:
    store = NotesStore(tmp_path / "notes.db")
    asked: list[str] = []

    def approve(name: str, arguments: dict[str, object]) -> bool:
        asked.append(name)
        return name == "add_note"

    box = Toolbox(notes_tools(store), approve=approve)
    added = await box.call("add_note", {"text": "call mum"})
    assert added.ok and added.value["text"] == "call mum"
    found = await box.call("search_notes", {"query": "mum"})
    assert found.ok and [note["id"] for note in found.value] == [added.value["id"]]
    refused = await box.call("delete_note", {"note_id": added.value["id"]})
    assert refused.error_kind == "not_approved"
    assert asked == ["add_note", "delete_note"]
    assert [note.text for note in store.recent()] == ["call mum"]


async def test_deleting_a_missing_note_tells_the_model(tmp_path: Path) -> None:
    box = Toolbox(notes_tools(NotesStore(tmp_path / "n.db")), approve=lambda name, args: True)
    missing = await box.call("delete_note", {"note_id": 42})
    assert not missing.ok and missing.content == "There is no note with id 42."
    listed = await box.call("list_notes", {})
    assert listed.ok and listed.value == []

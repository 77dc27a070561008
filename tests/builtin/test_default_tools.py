from pathlib import Path

import tools.builtin
from tools import Toolbox
from tools.builtin import NotesStore, TimerService, default_tools


def test_every_builtin_is_offered_once_with_approval_on_writes(tmp_path: Path) -> None:
    box = Toolbox(default_tools(notes=tmp_path / "n.db", timers=TimerService()))
    assert box.names == [
        "get_current_time",
        "convert_time",
        "calculate",
        "system_info",
        "set_timer",
        "set_alarm",
        "list_timers",
        "cancel_timer",
        "add_note",
        "list_notes",
        "search_notes",
        "delete_note",
    ]
    needing_approval = [tool.name for tool in box if tool.requires_approval]
    assert needing_approval == ["add_note", "delete_note"]
    for schema in box.schemas():
        assert schema["function"]["description"]


async def test_uses_the_given_store(tmp_path: Path) -> None:
    store = NotesStore(tmp_path / "mine.db")
    store.add("hello")
    box = Toolbox(default_tools(notes=store))
    listed = await box.call("list_notes", {})
    assert [note["text"] for note in listed.value] == ["hello"]


def test_public_names() -> None:
    for name in tools.builtin.__all__:
        assert hasattr(tools.builtin, name), name

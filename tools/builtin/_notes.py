"""Notes kept in a SQLite file: add, list, search, delete; and the tools over them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tools import Tool, ToolError, tool
from tools.builtin._paths import user_data_dir

__all__ = ["Note", "NoteNotFoundError", "NotesStore", "default_notes_path", "notes_tools"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""


def default_notes_path() -> Path:
    """``notes.db`` in the user's data folder (see `user_data_dir`)."""
    return user_data_dir() / "notes.db"


@dataclass(frozen=True, slots=True)
class Note:
    """One note: its id, its text, and when it was written (local time, ISO)."""

    id: int
    text: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        """The note as the model sees it."""
        return {"id": self.id, "text": self.text, "created_at": self.created_at}


class NoteNotFoundError(LookupError):
    """No note has the given id."""


class NotesStore:
    """Notes in one SQLite file, created on first use; safe to use from any thread.

    Each operation opens its own connection, so the store can be shared by tools that run in
    worker threads without locking.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_notes_path()

    def add(self, text: str) -> Note:
        """Save a note; `ValueError` if `text` is blank."""
        cleaned = text.strip()
        if not cleaned:
            raise ValueError("A note needs some text.")
        created_at = datetime.now().astimezone().isoformat(timespec="seconds")
        with self._connection() as connection:
            cursor = connection.execute(
                "INSERT INTO notes (text, created_at) VALUES (?, ?)", (cleaned, created_at)
            )
            note_id = cursor.lastrowid
        assert note_id is not None
        return Note(id=note_id, text=cleaned, created_at=created_at)

    def get(self, note_id: int) -> Note:
        """The note with this id; `NoteNotFoundError` if there is none."""
        with self._connection() as connection:
            return _fetch(connection, note_id)

    def recent(self, limit: int = 20) -> list[Note]:
        """The newest notes first."""
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT id, text, created_at FROM notes ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [Note(*row) for row in rows]

    def search(self, query: str, limit: int = 20) -> list[Note]:
        """Notes holding every word of `query` (any case, any order), newest first."""
        words = query.split()
        if not words:
            return self.recent(limit)
        condition = " AND ".join("text LIKE ? ESCAPE '\\'" for _ in words)
        patterns = [f"%{_escape_like(word)}%" for word in words]
        with self._connection() as connection:
            rows = connection.execute(
                f"SELECT id, text, created_at FROM notes WHERE {condition} "
                "ORDER BY id DESC LIMIT ?",
                (*patterns, limit),
            ).fetchall()
        return [Note(*row) for row in rows]

    def delete(self, note_id: int) -> Note:
        """Delete a note and return it; `NoteNotFoundError` if there is none."""
        with self._connection() as connection:
            note = _fetch(connection, note_id)
            connection.execute("DELETE FROM notes WHERE id = ?", (note_id,))
        return note

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10.0)) as connection, connection:
            connection.execute(_SCHEMA)
            yield connection


def _fetch(connection: sqlite3.Connection, note_id: int) -> Note:
    row = connection.execute(
        "SELECT id, text, created_at FROM notes WHERE id = ?", (note_id,)
    ).fetchone()
    if row is None:
        raise NoteNotFoundError(f"There is no note with id {note_id}.")
    return Note(*row)


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def notes_tools(store: NotesStore) -> list[Tool[..., Any]]:
    """The note tools over `store`; writing and deleting ask for approval (they change a file)."""
    # Long on purpose: a factory of small tools, each a closure over the same object (its
    # docstring is the model's description); they read best side by side.

    @tool(requires_approval=True)
    def add_note(text: str) -> dict[str, Any]:
        """Save a note for the user.

        Args:
            text: What to write down, in the user's words.
        """
        try:
            return store.add(text).to_dict()
        except ValueError as error:
            raise ToolError(str(error)) from None

    @tool
    def list_notes(limit: int = 10) -> list[dict[str, Any]]:
        """The user's most recent notes, newest first.

        Args:
            limit: How many notes at most.
        """
        return [note.to_dict() for note in store.recent(max(1, min(limit, 100)))]

    @tool
    def search_notes(query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Find the user's notes that contain every word of a query.

        Args:
            query: Words to look for, such as "dentist" or "wifi password".
            limit: How many notes at most.
        """
        return [note.to_dict() for note in store.search(query, max(1, min(limit, 100)))]

    @tool(requires_approval=True)
    def delete_note(note_id: int) -> dict[str, Any]:
        """Delete one of the user's notes.

        Args:
            note_id: The id of the note (from list_notes or search_notes).
        """
        try:
            return {"deleted": store.delete(note_id).to_dict()}
        except NoteNotFoundError as error:
            raise ToolError(str(error)) from None

    return [add_note, list_notes, search_notes, delete_note]

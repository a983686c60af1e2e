"""Input objects are read field by field, errors named by the path the client sent; an
update input is its create input with every field optional."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import strawberry
from graphql import GraphQLError

from services.gateway.graphql.core.inputs import (
    as_given,
    enum_value,
    patch_input,
    read_input,
    required_text,
    tag_list,
)
from services.gateway.graphql.review.action_items import ActionItemInput, ActionItemStatus, Team
from services.gateway.graphql.schema import schema

READERS = {
    "title": required_text,
    "team": enum_value,
    "due_date": as_given,
    "topic_tags": tag_list,
}


@strawberry.input
class NoteInput:
    title: str
    team: Team
    due_date: date | None = None
    topic_tags: list[str] | None = None


def test_each_field_is_read_by_its_reader() -> None:
    note = NoteInput(title="  Kickoff ", team=Team.SALES, topic_tags=["a", " a", "", "b"])
    assert read_input(note, READERS) == {
        "title": "Kickoff",
        "team": Team.SALES.value,
        "due_date": None,
        "topic_tags": ["a", "b"],
    }


def test_an_update_reads_only_the_fields_it_gives() -> None:
    note = NoteInput(title="Kickoff", team=None, topic_tags=None)  # type: ignore[arg-type]
    assert read_input(note, READERS, given_only=True) == {"title": "Kickoff"}


def test_an_error_names_the_field_as_the_client_spelt_it() -> None:
    with pytest.raises(GraphQLError) as caught:
        read_input(NoteInput(title="x", team=Team.SALES, topic_tags=[]), {"topic_tags": _blank})
    assert (caught.value.extensions or {})["fields"] == [
        {"path": "input.topicTags", "message": "must not be empty"}
    ]


def _blank(value: object, path: str) -> str:
    return required_text("  ", path)


def test_the_update_input_is_the_create_input_with_every_field_optional() -> None:
    patch = patch_input(ActionItemInput)
    assert patch.__name__ == "ActionItemUpdateInput"
    fields = {f.name: f.default for f in dataclasses.fields(patch)}
    assert fields == dict.fromkeys(f.name for f in dataclasses.fields(ActionItemInput))
    empty = patch()
    assert read_input(empty, {"status": enum_value}, given_only=True) == {}
    given = patch(status=ActionItemStatus.DONE)
    assert read_input(given, {"status": enum_value}, given_only=True) == {"status": "DONE"}
    sdl = str(schema)
    assert "input ActionItemUpdateInput {" in sdl and "weekStart: Date = null" in sdl

"""The versioned library (SPEC 8) that messages and content items share: the lock-and-
version write that stores every change as a new version, the version history and influence
loaders, and the reads of one item or a page of items.

A library domain describes its tables once in a `LibraryTable`, and its types and input in
a `LibraryApi`, which makes its queries and mutations; everything here works from those."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cached_property
from typing import Any, Generic, TypeVar, get_type_hints

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.enums import AttributionModel, LibraryStatus
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.inputs import (
    Reader,
    enum_value,
    new_id,
    patch_input,
    read_input,
    required_text,
    tag_list,
)
from services.gateway.graphql.core.loaders import LoaderScope
from services.gateway.graphql.core.permissions import library_mutation, read_field
from services.gateway.graphql.core.relay import Edge, Keyset, PageInfo, node_query, page_size
from services.gateway.graphql.core.rows import enum_of, from_row, without_none
from services.gateway.graphql.nodes.influence import (
    Influence,
    InfluenceLoader,
    Target,
    influence_loader,
)
from shared.domain import library

V = TypeVar("V")
N = TypeVar("N")

State = dict[str, Any]
Change = Callable[[State], State]
# Checks or completes a state in the write's transaction, given the tenant (content checks
# its message ids).
Prepare = Callable[[asyncpg.Connection, str, State], Awaitable[None]]


@dataclass(frozen=True)
class LibraryTable:
    what: str  # the item as errors name it: "message", "content item"
    table: str  # its current rows
    id_column: str
    id_prefix: str  # of new ids: msg_…
    cursor: str  # the kind of its connection's cursors
    columns: tuple[str, ...]  # what a read returns
    version_table: str
    # What the history keeps of each write, besides tenant, author and time; the id first.
    version_columns: tuple[str, ...]
    influence: Target

    @property
    def select(self) -> str:
        return ", ".join(self.columns)

    @cached_property
    def keyset(self) -> Keyset:
        """Its connection's cursors: the item id, in id order."""
        return Keyset(self.cursor, {self.id_column: str})


def readers_of(input_type: type[Any]) -> dict[str, Reader]:
    """How each field of a library's create input is read, by its type: text is stripped
    and must not be blank, a list of strings is a list of tags (ids too: the library's
    `prepare` checks them), an enum is stored as its value."""
    readers: dict[str, Reader] = {}
    for name, hint in get_type_hints(input_type).items():
        base = without_none(hint)
        if base is str:
            readers[name] = required_text
        elif base == list[str]:
            readers[name] = tag_list
        elif enum_of(base) is not None:
            readers[name] = enum_value
        else:
            raise TypeError(f"{input_type.__name__}.{name}: a library input has no {hint}")
    return readers


def updated(input: Any, readers: Mapping[str, Reader]) -> Change:
    """An update: an APPROVED item goes back to DRAFT, and each field the `input` object
    gives (not null) replaces the item's, read by its reader."""

    def change(state: State) -> State:
        state["status"] = library.after_update(state["status"])
        state.update(read_input(input, readers, given_only=True))
        return state

    return change


def transition(what: str, item_id: str, change: Change, state: State) -> State:
    """`change` applied to a library item's `state`; a refused status change is bad input."""
    try:
        return change(state)
    except library.TransitionError as exc:
        raise bad_input(f"{what} {item_id}: {exc}", [("id", str(exc))]) from None


def approve(state: State) -> State:
    return {**state, "status": library.after_approve(state["status"])}


def retire(state: State) -> State:
    return {**state, "status": library.after_retire(state["status"])}


async def next_version(
    conn: asyncpg.Connection, spec: LibraryTable, tenant_id: str, item_id: str, change: Change
) -> State:
    """The state of a library item after `change`, with its next version number.

    The row is locked until the transaction ends, so concurrent edits apply one after the
    other, none is lost, and they get consecutive versions rather than the same one."""
    current = await conn.fetchrow(
        f"SELECT {spec.select} FROM {spec.table} WHERE tenant_id = $1"
        f" AND {spec.id_column} = $2 FOR UPDATE",
        tenant_id,
        item_id,
    )
    if current is None:
        raise not_found(spec.what, item_id)
    state = transition(spec.what, item_id, change, dict(current))
    state["version"] = current["version"] + 1
    return state


async def append_version(
    conn: asyncpg.Connection,
    table: str,
    columns: Sequence[str],
    state: Mapping[str, Any],
    *,
    tenant_id: str,
    author: str,
    at: datetime,
) -> None:
    """Appends a library item as one write left it to its history `table`: the `columns` of
    `state` (its id, version and fields), with who wrote it and when. Call it in the write's
    transaction, so the history never misses or invents a write."""
    names = ["tenant_id", *columns, "author", "created_at"]
    values = [tenant_id, *(state[c] for c in columns), author, at]
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    await conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})", *values)


async def _store(
    conn: asyncpg.Connection, ctx: RequestContext, spec: LibraryTable, state: State
) -> asyncpg.Record:
    """Writes `state` as the item's current row and as its next version; the row as read."""
    assert ctx.principal is not None
    author, now = ctx.principal.subject, ctx.now()
    written = {c: state[c] for c in spec.version_columns}
    if "author" in spec.columns:
        written["author"] = author
    names = ["tenant_id", *written, "created_at", "updated_at"]
    values = [ctx.tenant_id, *written.values(), now]
    # created_at and updated_at both take the last value; an update keeps created_at.
    placeholders = [f"${i}" for i in range(1, len(values) + 1)] + [f"${len(values)}"]
    updates = [f"{c} = EXCLUDED.{c}" for c in [*written, "updated_at"] if c != spec.id_column]
    row = await conn.fetchrow(
        f"INSERT INTO {spec.table} ({', '.join(names)}) VALUES ({', '.join(placeholders)})"
        f" ON CONFLICT (tenant_id, {spec.id_column}) DO UPDATE SET {', '.join(updates)}"
        f" RETURNING {spec.select}",
        *values,
    )
    await append_version(
        conn, spec.version_table, spec.version_columns, state,
        tenant_id=ctx.tenant_id, author=author, at=now,
    )  # fmt: skip
    return row


async def create(
    ctx: RequestContext, spec: LibraryTable, fields: State, prepare: Prepare | None = None
) -> asyncpg.Record:
    """A new DRAFT item at version 1 with `fields`."""
    state = {spec.id_column: new_id(spec.id_prefix), **fields}
    state.update(status=library.Status.DRAFT, version=1)
    async with ctx.tx() as conn:
        if prepare is not None:
            await prepare(conn, ctx.tenant_id, state)
        return await _store(conn, ctx, spec, state)


async def change(
    ctx: RequestContext,
    spec: LibraryTable,
    item_id: str,
    change: Change,
    prepare: Prepare | None = None,
) -> asyncpg.Record:
    """The item after `change`, stored as its next version (lock, change, write)."""
    async with ctx.tx() as conn:
        state = await next_version(conn, spec, ctx.tenant_id, item_id, change)
        if prepare is not None:
            await prepare(conn, ctx.tenant_id, state)
        return await _store(conn, ctx, spec, state)


async def fetch_one(ctx: RequestContext, spec: LibraryTable, item_id: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await ctx.scope.fetchrow(
        f"SELECT {spec.select} FROM {spec.table} WHERE tenant_id = $1 AND {spec.id_column} = $2",
        item_id,
    )
    return row


async def fetch_page(
    ctx: RequestContext,
    spec: LibraryTable,
    filters: Mapping[str, Enum | None],
    page: tuple[int | None, str | None],
    node: Callable[[asyncpg.Record], N],
) -> tuple[list[Edge[N]], PageInfo]:
    """One page of items in id order: `page` is (first, after), each item equal to the
    given `filters` (column → enum value; None: any); `node` makes an item of a row."""
    first, after = page
    limit = page_size(first)
    keyset = spec.keyset
    position = keyset.position(after)
    given = {c: None if v is None else v.value for c, v in filters.items()}
    given[spec.id_column] = None if position is None else position[0]
    conditions = ["tenant_id = $1"]
    args: list[object] = []  # $2, $3, ... after the tenant
    for column, value in given.items():
        args.append(value)
        n = len(args) + 1
        op = ">" if column == spec.id_column else "="
        conditions.append(f"(${n}::text IS NULL OR {column} {op} ${n})")
    args.append(limit + 1)
    rows = await ctx.scope.fetch(
        f"SELECT {spec.select} FROM {spec.table} WHERE {' AND '.join(conditions)}"
        f" ORDER BY {spec.id_column} LIMIT ${len(args) + 1}",
        *args,
    )
    return keyset.page(rows, limit, after, node)


@dataclass(frozen=True)
class LibraryApi:
    """A library domain's queries and mutations, all made from what it declares: its
    `spec`, its `node` type and `connection` of them, its create `input` type, and what
    checks a written state in the write's transaction (`prepare`). Each input field is
    read as its type says (`readers_of`); pages filter by status and by each enum field."""

    spec: LibraryTable
    node: type[Any]
    connection: type[Any]
    input: type[Any]
    prepare: Prepare | None = None

    @cached_property
    def readers(self) -> dict[str, Reader]:
        return readers_of(self.input)

    @cached_property
    def filters(self) -> dict[str, type[Enum]]:
        """The page's filter arguments: status, then the input's enum fields in order."""
        enums = {name: enum_of(hint) for name, hint in get_type_hints(self.input).items()}
        return {"status": LibraryStatus, **{n: e for n, e in enums.items() if e is not None}}

    def queries(self, page: str, item: str) -> tuple[Any, Any]:
        """The items page by page (described by `page`): the `filters` (null: any), then
        `first` and `after`; and one item by id, or null (described by `item`)."""
        optional = {**self.filters, "first": int, "after": str}
        pages = _resolver(self._page, self.connection, optional=optional)
        return (
            read_field(page)(pages),
            node_query(self.node, self._load, item),
        )

    def mutations(self, create: str, update: str) -> tuple[Any, Any, Any, Any]:
        """Create (described by `create`), update (by `update`), approve and retire."""
        patch = patch_input(self.input)
        return (
            self._write(self._create, create, input=self.input),
            self._write(self._update, update, id=strawberry.ID, input=patch),
            self._write(self._approve, "Publish to sales", id=strawberry.ID),
            self._write(self._retire, "Withdraw for good", id=strawberry.ID),
        )

    def _write(self, method: Callable[..., Awaitable[Any]], description: str, **args: Any) -> Any:
        """A mutation for the roles that write the library."""
        return library_mutation(description)(_resolver(method, self.node, required=args))

    def _node(self, row: asyncpg.Record) -> Any:
        return from_row(self.node, row, id_column=self.spec.id_column)

    async def _page(self, info: Info, first: int | None, after: str | None, **given: Any) -> Any:
        page = await fetch_page(info.context, self.spec, given, (first, after), self._node)
        return self.connection(edges=page[0], page_info=page[1])

    async def _load(self, info: Info, item_id: str) -> Any:
        row = await fetch_one(info.context, self.spec, item_id)
        return None if row is None else self._node(row)

    async def _create(self, info: Info, input: Any) -> Any:
        fields = read_input(input, self.readers)
        return self._node(await create(info.context, self.spec, fields, self.prepare))

    async def _update(self, info: Info, id: strawberry.ID, input: Any) -> Any:
        edit = updated(input, self.readers)
        return self._node(await change(info.context, self.spec, str(id), edit, self.prepare))

    async def _approve(self, info: Info, id: strawberry.ID) -> Any:
        return self._node(await change(info.context, self.spec, str(id), approve))

    async def _retire(self, info: Info, id: strawberry.ID) -> Any:
        return self._node(await change(info.context, self.spec, str(id), retire))


def _resolver(
    call: Callable[..., Awaitable[Any]],
    returns: type[Any],
    *,
    required: Mapping[str, Any] | None = None,
    optional: Mapping[str, Any] | None = None,
) -> Callable[..., Awaitable[Any]]:
    """`call(info, **arguments)` as a resolver whose schema arguments are `required` and
    `optional` (name → type; an optional one defaults to null) and whose type is `returns`.
    Every library has types of its own, so the schema's types are set here, per library."""

    async def resolve(info: Info, **arguments: Any) -> Any:
        return await call(info, **arguments)

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("info", keyword, annotation=Info)]
    params += [inspect.Parameter(n, keyword, annotation=t) for n, t in (required or {}).items()]
    params += [
        inspect.Parameter(n, keyword, default=None, annotation=t | None)
        for n, t in (optional or {}).items()
    ]
    resolve.__signature__ = inspect.Signature(params, return_annotation=returns)  # type: ignore[attr-defined]
    return resolve


def version_type(name: str, description: str, **fields: Any) -> type[Any]:
    """The type of one version of a library item, as its history keeps it: the `version`,
    the item's own `fields` (name → type), then the `status`, `author` and time that every
    library keeps alike."""
    annotations = {
        "version": int,
        **fields,
        "status": LibraryStatus,
        "author": str,
        "created_at": datetime,
    }
    return strawberry.type(
        type(name, (), {"__annotations__": annotations}), description=description
    )


def versions_loader(
    scope: LoaderScope, table: str, id_column: str, from_row: Callable[[asyncpg.Record], V]
) -> DataLoader[str, list[V]]:
    """Batches the version histories a page of library items asks for: one query per request
    for every item's versions, oldest first."""

    async def load(ids: Sequence[str]) -> list[list[V]]:
        rows = await scope.fetch(
            f"SELECT * FROM {table} WHERE tenant_id = $1 AND {id_column} = ANY($2::text[])"
            f" ORDER BY {id_column}, version",
            list(ids),
        )
        by_id: dict[str, list[V]] = {i: [] for i in ids}
        for row in rows:
            by_id[row[id_column]].append(from_row(row))
        return [by_id[i] for i in ids]

    return DataLoader(load_fn=load, cache=scope.cache)


@dataclass
class LibraryLoaders(Generic[V]):
    """One request's batching of what a page of library items asks for."""

    scope: LoaderScope
    spec: LibraryTable
    version_from_row: Callable[[asyncpg.Record], V]
    versions: DataLoader[str, list[V]] = field(init=False)
    influence: InfluenceLoader = field(init=False)

    def __post_init__(self) -> None:
        scope, spec = self.scope, self.spec
        self.versions = versions_loader(
            scope, spec.version_table, spec.id_column, self.version_from_row
        )
        self.influence = influence_loader(scope, spec.influence)


def history_fields(spec: LibraryTable, version: type[Any]) -> tuple[Any, Any]:
    """The `versions` and `influence` fields of the node of `spec`'s items, whose versions
    are `version`s (built from their rows); one set of loaders per request serves both."""

    def loaders(scope: LoaderScope) -> LibraryLoaders[Any]:
        return LibraryLoaders(scope, spec, lambda row: from_row(version, row))

    async def versions(self: Any, info: Info) -> list[Any]:
        return await info.context.loaders.of(loaders).versions.load(str(self.id))

    async def influence(
        self: Any, info: Info, model: AttributionModel = AttributionModel.LINEAR
    ) -> Influence:
        loader = info.context.loaders.of(loaders).influence
        return await loader.load((str(self.id), model.value))

    # Built for each library type, so the schema's version type comes from the argument.
    versions.__annotations__ = {"info": Info, "return": list[version]}  # type: ignore[valid-type]
    return (
        strawberry.field(resolver=versions, description="every version, oldest first"),
        strawberry.field(
            resolver=influence,
            description="attributed pipeline and revenue, and win rates with/without",
        ),
    )

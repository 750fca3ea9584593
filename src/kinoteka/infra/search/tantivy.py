"""Tantivy adapter: each index is a versioned directory on local disk behind a pointer file.

Layout under the root (`tantivy:///root`): `<index>/CURRENT` names the live version directory
(`<index>/v<ns>/`), switched atomically (temp file + `os.replace`) by `rebuild`; `VERSION` holds
the write counter. One process writes an index at a time (Tantivy's writer lock); any number of
processes read it, reopening when `CURRENT` changes and reloading when `VERSION` moves. Each
version directory records the field layout it was built with (`LAYOUT_FILE`): one built for an
older layout keeps answering, reported by `outdated()`, until a rebuild replaces it.

Documents go in as JSON (`IndexWriter.add_json`, parsed by Tantivy itself): an `EncodedDocument`
passes through with only its `_source` (the stored original) appended, so a full load does no
per-document work in Python beyond that.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import os
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import anyio.to_thread
import orjson
import structlog
import tantivy

from kinoteka.infra.search import (
    Document,
    EncodedDocument,
    FieldKind,
    FieldSpec,
    IndexDefinition,
    SearchError,
    SearchHits,
    SearchQuery,
    SearchUnavailable,
    Upsert,
    fuzzy_distance,
)

log = structlog.get_logger(__name__)

ANALYZER = "ru_en"
SOURCE = "_source"
LAYOUT = 2  # bump whenever `build_schema` lays a definition out differently on disk
LAYOUT_FILE = "kinoteka-layout"
WRITER_HEAP_MIB = 64  # the default memory of a writer; a rebuild's writer gets twice this
WRITER_IDLE = 2.0  # seconds without a batch before a writer's lock is given up
FUZZY_WEIGHT = 1.0  # a typo's hit, relative to an exact hit of the rarest word
T = TypeVar("T")


def text_analyzer() -> tantivy.TextAnalyzer:
    """Lowercase, accent-folded, English + Russian stop words and stems; splits on punctuation."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        # the English possessive "'s" is split off by the tokenizer; drop it as a stop word
        .filter(tantivy.Filter.custom_stopword(["s"]))
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stopword("russian"))
        .filter(tantivy.Filter.stemmer("english"))
        .filter(tantivy.Filter.stemmer("russian"))
        .build()
    )


def sort_normalizer() -> tantivy.TextAnalyzer:
    """What a sortable text field's fast column keeps: the whole value, lowercased and
    accent-folded (Elasticsearch's `sort_key` normalizer does the same)."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


TEXT_SUFFIX = "__text"


def build_schema(definition: IndexDefinition) -> tantivy.Schema:
    """Flat fields as they are (a sortable text field also keeps a fast column of its
    normalized value, through the fast-field tokenizer registered under the analyzer's name);
    an OBJECTS field only for properties that do not repeat a flat field (`same_as`): a JSON
    field of raw terms for KEYWORD ones (filtered as `things.code`), an analyzed twin for TEXT
    ones. Objects whose every property repeats a flat field are stored in `_source` only."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=False, tokenizer_name="raw", index_option="basic")
    for spec in definition.fields:
        if spec.name == "id":
            continue
        if spec.kind is FieldKind.KEYWORD:
            builder.add_text_field(spec.name, tokenizer_name="raw", index_option="basic")
        elif spec.kind is FieldKind.TEXT:
            builder.add_text_field(spec.name, fast=spec.sortable, tokenizer_name=ANALYZER)
        elif spec.kind is FieldKind.FLOAT:
            builder.add_float_field(spec.name, indexed=True, fast=True)
        else:
            if _unrepeated(spec, FieldKind.KEYWORD):
                builder.add_json_field(spec.name, tokenizer_name="raw", index_option="basic")
            if _unrepeated(spec, FieldKind.TEXT):
                builder.add_json_field(spec.name + TEXT_SUFFIX, tokenizer_name=ANALYZER)
    builder.add_bytes_field(SOURCE, stored=True)
    return builder.build()


def _unrepeated(spec: FieldSpec, kind: FieldKind) -> bool:
    """Whether an OBJECTS field has properties of `kind` that no flat field repeats."""
    return any(p.kind is kind and p.same_as is None for p in spec.properties)


def layout_fingerprint(definition: IndexDefinition) -> str:
    """What `build_schema` makes of `definition` on disk, as a short digest (boosts and names
    of the index aside: they change queries, not the files)."""
    shape = [
        (spec.name, spec.kind.value, spec.sortable, [(p.name, p.kind.value, p.same_as is None)
                                                     for p in spec.properties])
        for spec in definition.fields
    ]  # fmt: skip
    return hashlib.sha256(orjson.dumps([LAYOUT, shape])).hexdigest()[:16]


class _Encoder:
    """Turns upserts into the JSON `IndexWriter.add_json` takes: the document's fields (no
    nulls: Tantivy refuses them), the analyzed twins of OBJECTS fields, and `_source`, the
    stored original (base64, as Tantivy reads bytes from JSON)."""

    def __init__(self, definition: IndexDefinition) -> None:
        self.twins = tuple(
            (spec.name, spec.name + TEXT_SUFFIX)
            for spec in definition.fields
            if spec.kind is FieldKind.OBJECTS and _unrepeated(spec, FieldKind.TEXT)
        )

    def __call__(self, upsert: Upsert) -> tuple[str, str]:
        """The upsert's id and its JSON for Tantivy."""
        if isinstance(upsert, EncodedDocument):
            if not self.twins:  # the hot path of a full load: no parse, no dict
                return upsert.id, _with_source(upsert.json, upsert.json.encode())
            return upsert.id, self._encode(upsert.decode(), upsert.json.encode())
        try:
            source = orjson.dumps(upsert)
        except TypeError as error:  # a value JSON cannot hold (a set, an object, …)
            raise SearchError(f"document refused: {error}") from error
        return str(upsert["id"]), self._encode(upsert, source)

    def _encode(self, document: Document, source: bytes) -> str:
        fields = {name: value for name, value in document.items() if value is not None}
        for name, twin in self.twins:
            if name in fields:
                fields[twin] = fields[name]
        return _with_source(orjson.dumps(fields).decode(), source)


def _with_source(fields: str, source: bytes) -> str:
    """`fields` (one JSON object with at least one member: an id) with `_source` added last.

    Runs once per document of a full load: string slicing and C calls only."""
    if not fields.endswith("}"):
        raise SearchError("a document must be one JSON object")
    encoded = binascii.b2a_base64(source, newline=False).decode("ascii")
    return f'{fields[:-1]},"{SOURCE}":"{encoded}"}}'


@dataclass
class _Reader:
    directory: str
    index: tantivy.Index
    seen_version: int


class TantivyIndex:
    """The `SearchIndex` port over Tantivy directories (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        definitions: Sequence[IndexDefinition],
        *,
        writer_heap_mib: int = WRITER_HEAP_MIB,
    ) -> None:
        self.root = root
        self.writer_heap = writer_heap_mib * 2**20
        self.definitions: Mapping[str, IndexDefinition] = {d.name: d for d in definitions}
        self._schemas = {d.name: build_schema(d) for d in definitions}
        self._layouts = {d.name: layout_fingerprint(d) for d in definitions}
        self._encoders = {d.name: _Encoder(d) for d in definitions}
        self._analyzer = text_analyzer()
        self._sort_normalizer = sort_normalizer()
        self._readers: dict[str, _Reader] = {}
        self._lock = threading.Lock()
        self._writers: dict[str, tuple[str, tantivy.IndexWriter]] = {}
        self._uncommitted: set[str] = set()  # indexes whose writer holds `commit=False` batches
        self._last_write = 0.0
        self._idle_timer: threading.Timer | None = None

    @classmethod
    def from_url(
        cls, url: str, definitions: Sequence[IndexDefinition], *, writer_heap_mib: int
    ) -> TantivyIndex:
        parts = urlsplit(url)
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise SearchError(f"tantivy URL {url!r} names no directory")
        return cls(Path(path), definitions, writer_heap_mib=writer_heap_mib)

    # -- files -------------------------------------------------------------------------------

    def _definition(self, index: str) -> IndexDefinition:
        try:
            return self.definitions[index]
        except KeyError:
            raise SearchError(f"unknown index {index!r}") from None

    def _pointer(self, index: str) -> Path:
        return self.root / index / "CURRENT"

    def _current(self, index: str) -> str:
        try:
            return self._pointer(index).read_text().strip()
        except FileNotFoundError:
            raise SearchError(f"index {index!r} does not exist under {self.root}") from None

    def _read_version(self) -> int:
        try:
            return int((self.root / "VERSION").read_text() or 0)
        except FileNotFoundError:
            return 0

    def _bump_version(self) -> int:
        version = max(self._read_version() + 1, time.time_ns())
        _atomic_write(self.root / "VERSION", str(version))
        return version

    def _tokenizers(self, opened: tantivy.Index) -> tantivy.Index:
        opened.register_tokenizer(ANALYZER, self._analyzer)
        opened.register_fast_field_tokenizer(ANALYZER, self._sort_normalizer)
        return opened

    def _open(self, index: str, directory: str) -> tantivy.Index:
        return self._tokenizers(tantivy.Index.open(str(self.root / index / directory)))

    def _create(self, index: str) -> str:
        directory = f"v{time.time_ns()}"
        path = self.root / index / directory
        path.mkdir(parents=True)
        self._definition(index)
        self._tokenizers(tantivy.Index(self._schemas[index], path=str(path)))
        (path / LAYOUT_FILE).write_text(self._layouts[index])
        return directory

    def _layout_current(self, index: str, directory: str) -> bool:
        try:
            stored = (self.root / index / directory / LAYOUT_FILE).read_text().strip()
        except FileNotFoundError:  # built before layouts were recorded
            return False
        return stored == self._layouts[index]

    # -- sync halves (run in a worker thread) ------------------------------------------------

    def _ensure(self) -> list[str]:
        created = []
        for name in self.definitions:
            if self._pointer(name).exists():
                continue
            directory = self._create(name)
            with self._lock:
                _atomic_write(self._pointer(name), directory)
            created.append(name)
        if created:
            self._bump_version()
        return created

    def _outdated(self) -> list[str]:
        return [
            name
            for name in self.definitions
            if self._pointer(name).exists() and not self._layout_current(name, self._current(name))
        ]

    def _writer(self, index: str) -> tantivy.IndexWriter:
        """The index's writer, reused while batches keep coming (merges run in its threads),
        reopened when a rebuild moved the pointer. Caller holds `self._lock`."""
        directory = self._current(index)
        held = self._writers.get(index)
        if held is not None and held[0] == directory:
            return held[1]
        if index in self._uncommitted:
            self._release(index)
            raise SearchUnavailable(
                f"index {index!r} was switched to a new version while batches were uncommitted"
            )
        self._release(index)
        try:
            writer = self._open(index, directory).writer(self.writer_heap, 1)
        except ValueError as error:
            if "LockBusy" in str(error):
                message = f"index {index!r} is being written by another process"
                raise SearchUnavailable(message) from error
            raise SearchError(str(error)) from error
        self._writers[index] = (directory, writer)
        return writer

    def _release(self, index: str) -> None:
        held = self._writers.pop(index, None)
        self._uncommitted.discard(index)  # a writer dropped uncommitted rolls its batches back
        if held is None:
            return
        try:
            held[1].wait_merging_threads()
        except ValueError as error:  # a merge in a version a rebuild has dropped
            log.warning("search.writer.release_failed", index=index, error=str(error))

    def _release_idle(self) -> None:
        """Drop writers idle for WRITER_IDLE seconds: other processes may then write.

        A writer holding uncommitted batches is kept: dropping it would lose them."""
        with self._lock:
            if time.monotonic() - self._last_write >= WRITER_IDLE:
                for index in list(self._writers):
                    if index not in self._uncommitted:
                        self._release(index)

    def _bulk(
        self,
        index: str,
        upserts: Sequence[Upsert],
        deletes: Sequence[str],
        commit: bool,
        new: bool,
    ) -> None:
        encode = self._encoders[self._definition(index).name]
        with self._lock:
            writer = self._writer(index)
            try:
                for upsert in upserts:
                    document_id, fields = encode(upsert)
                    if not new:
                        writer.delete_documents_by_term("id", document_id)
                    _add(writer, fields)
                for document_id in deletes:
                    writer.delete_documents_by_term("id", str(document_id))
                if commit:
                    writer.commit()
            except BaseException:
                writer.rollback()  # drops what earlier `commit=False` batches held too
                self._uncommitted.discard(index)
                raise
            if commit:
                self._committed(index)
            else:
                self._last_write = time.monotonic()
                self._uncommitted.add(index)

    def _clear(self, index: str) -> None:
        self._definition(index)
        with self._lock:
            writer = self._writer(index)
            try:
                writer.delete_all_documents()
                writer.commit()
            except BaseException:
                writer.rollback()
                self._uncommitted.discard(index)
                raise
            self._committed(index)

    def _committed(self, index: str) -> None:
        """After a commit of `index`'s writer: bump the version, restart the idle timer.
        Caller holds `self._lock`."""
        self._last_write = time.monotonic()
        self._uncommitted.discard(index)
        self._bump_version()
        # The writer's lock is released once batches stop coming (a CLI run beside
        # `kinoteka up` then gets its turn), not after each one: holding it lets merges
        # run in the background instead of inside the next commit.
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        self._idle_timer = threading.Timer(WRITER_IDLE, self._release_idle)
        self._idle_timer.daemon = True
        self._idle_timer.start()

    def _reader(self, index: str) -> tantivy.Searcher:
        version = self._read_version()
        directory = self._current(index)
        reader = self._readers.get(index)
        if reader is None or reader.directory != directory:
            try:
                opened = self._open(index, directory)
            except ValueError:
                # the pointer moved on and the old version was dropped between the two reads
                directory = self._current(index)
                opened = self._open(index, directory)
            reader = _Reader(directory, opened, version)
            self._readers[index] = reader
        elif reader.seen_version != version:
            reader.index.reload()
            reader.seen_version = version
        return reader.index.searcher()

    def _get(self, index: str, document_id: str) -> Document | None:
        definition = self._definition(index)
        searcher = self._reader(index)
        schema = self._readers[index].index.schema
        hits = searcher.search(tantivy.Query.term_query(schema, "id", document_id), 1).hits
        if not hits:
            return None
        return _source(definition, searcher, hits[0][1])

    def _count(self, index: str) -> int:
        return self._reader(index).num_docs

    def _search(self, query: SearchQuery) -> SearchHits:
        definition = self._definition(query.index)
        searcher = self._reader(query.index)
        schema = self._readers[query.index].index.schema
        compiled = self._compile(definition, schema, query, searcher)
        order_by: str | None = None
        order = tantivy.Order.Asc
        if query.sort is not None:
            spec = _sort_field(definition, query.sort.field)
            order_by = spec
            order = tantivy.Order.Desc if query.sort.descending else tantivy.Order.Asc
        # Tantivy collects offset + limit hits up front: an offset past every document would
        # ask for an allocation of that size (and abort the process), so it is clamped; the
        # page is empty either way.
        offset = query.offset
        past_end = offset >= searcher.num_docs
        result = searcher.search(
            compiled,
            query.limit,
            count=True,
            order_by_field=order_by,
            offset=0 if past_end else offset,
            order=order,
        )
        hits = [] if past_end else result.hits
        documents = [_source(definition, searcher, address) for _, address in hits]
        total: int = getattr(result, "count", None) or 0  # not in the bundled stub
        return SearchHits(total=total, documents=documents)

    def _compile(
        self,
        definition: IndexDefinition,
        schema: tantivy.Schema,
        query: SearchQuery,
        searcher: tantivy.Searcher,
    ) -> tantivy.Query:
        must: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for path, value in query.filters.items():
            name = _keyword_field(definition, path)
            if isinstance(value, str):
                condition = tantivy.Query.term_query(schema, name, value)
            else:
                condition = tantivy.Query.term_set_query(schema, name, list(value))
            must.append((tantivy.Occur.Must, condition))
        if query.text is not None and query.text.strip():
            must.append((tantivy.Occur.Must, self._text_query(definition, schema, query, searcher)))
        if not must:
            return tantivy.Query.all_query()
        return tantivy.Query.boolean_query(must)

    def _text_query(
        self,
        definition: IndexDefinition,
        schema: tantivy.Schema,
        query: SearchQuery,
        searcher: tantivy.Searcher,
    ) -> tantivy.Query:
        if query.fields:
            boosts = {path: definition.default_text_fields.get(path, 1.0) for path in query.fields}
        else:
            boosts = definition.default_text_fields
        targets = {path: _text_field(definition, path) for path in boosts}
        should: list[tuple[tantivy.Occur, tantivy.Query]] = []
        for term in dict.fromkeys(self._analyzer.analyze(query.text or "")):
            distance = fuzzy_distance(term) if query.fuzzy else 0
            # Tantivy scores a fuzzy hit as a constant, not by the BM25 of the word it hit, so
            # a known word is matched exactly only (BM25 ranks it); a word the index does not
            # hold is taken for a typo and matched within its edit distance.
            if distance and any(searcher.doc_freq(name, term) for name in targets.values()):
                distance = 0
            per_field: list[tantivy.Query] = []
            # ... scored like an exact hit of a word found in one document (its BM25 idf).
            typo_score = FUZZY_WEIGHT * math.log1p((max(searcher.num_docs, 1) - 0.5) / 1.5)
            for path, boost in boosts.items():
                name = targets[path]
                exact = tantivy.Query.term_query(schema, name, term)
                per_field.append(tantivy.Query.boost_query(exact, boost))
                # One query per allowed distance, each worth an equal share: a word one edit
                # away collects every share, one two edits away only the last.
                for edits in range(1, distance + 1):
                    fuzzy = tantivy.Query.fuzzy_term_query(schema, name, term, edits)
                    share = boost * typo_score / distance
                    per_field.append(tantivy.Query.boost_query(fuzzy, share))
            should.append((tantivy.Occur.Should, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, field_query) for field_query in per_field]
            )))  # fmt: skip
        if not should:
            return tantivy.Query.empty_query()
        return tantivy.Query.boolean_query(should)

    def _rebuild_start(self, index: str) -> tuple[str, tantivy.IndexWriter]:
        directory = self._create(index)
        opened = self._open(index, directory)
        return directory, opened.writer(self.writer_heap * 2, 2)

    def _rebuild_write(
        self, index: str, writer: tantivy.IndexWriter, documents: Sequence[Upsert]
    ) -> None:
        encode = self._encoders[self._definition(index).name]
        for document in documents:
            _add(writer, encode(document)[1])

    def _rebuild_switch(self, index: str, directory: str, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        writer.wait_merging_threads()
        with self._lock:
            self._release(index)
            old = self._current(index)
            _atomic_write(self._pointer(index), directory)
            self._bump_version()
        shutil.rmtree(self.root / index / old, ignore_errors=True)
        log.info("search.rebuild.switched", index=index, old=old, new=directory)

    # -- the port ----------------------------------------------------------------------------

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await anyio.to_thread.run_sync(function, *args)

    async def ensure_indexes(self) -> list[str]:
        return await self._run(self._ensure)

    async def outdated(self) -> list[str]:
        return await self._run(self._outdated)

    async def bulk(
        self,
        index: str,
        upserts: Sequence[Upsert] = (),
        deletes: Sequence[str] = (),
        *,
        commit: bool = True,
        new: bool = False,
    ) -> None:
        if upserts or deletes or (commit and index in self._uncommitted):
            await self._run(self._bulk, index, upserts, deletes, commit, new)

    async def clear(self, index: str) -> None:
        await self._run(self._clear, index)

    async def get(self, index: str, document_id: str) -> Document | None:
        return await self._run(self._get, index, document_id)

    async def count(self, index: str) -> int:
        return await self._run(self._count, index)

    async def search(self, query: SearchQuery) -> SearchHits:
        return await self._run(self._search, query)

    async def refresh(self) -> None:
        def reload_all() -> None:
            for name in list(self._readers):
                self._reader(name)

        await self._run(reload_all)

    async def rebuild(self, index: str, batches: AsyncIterator[Sequence[Upsert]]) -> int:
        directory, writer = await self._run(self._rebuild_start, index)
        loaded = 0
        try:
            async for batch in batches:
                await self._run(self._rebuild_write, index, writer, batch)
                loaded += len(batch)
            await self._run(self._rebuild_switch, index, directory, writer)
        except BaseException:
            shutil.rmtree(self.root / index / directory, ignore_errors=True)
            raise
        return loaded

    async def version(self) -> int:
        return await self._run(self._read_version)

    async def ping(self) -> None:
        if not self.root.is_dir():
            raise SearchError(f"no search index directory at {self.root}")

    async def close(self) -> None:
        def release_all() -> None:
            with self._lock:
                if self._idle_timer is not None:
                    self._idle_timer.cancel()
                for index in list(self._writers):
                    self._release(index)

        await self._run(release_all)
        self._readers.clear()


def _add(writer: tantivy.IndexWriter, fields: str) -> None:
    try:
        writer.add_json(fields)
    except ValueError as error:  # a value the schema cannot take (a word for a number, …)
        raise SearchError(f"document refused: {error}") from error


def _source(
    definition: IndexDefinition, searcher: tantivy.Searcher, address: tantivy.DocAddress
) -> Document:
    """The stored original, completed with the derived fields it was written without."""
    raw = searcher.doc(address).get_first(SOURCE)
    if raw is None:
        raise SearchError("a stored document lacks its source")
    document: Document = orjson.loads(bytes(raw))
    return definition.complete(document)


def _sort_field(definition: IndexDefinition, path: str) -> str:
    spec = definition.field(path)
    if spec.kind is FieldKind.FLOAT:
        return spec.name
    if spec.kind is FieldKind.TEXT and spec.sortable:
        return spec.name  # its fast column holds the normalized value
    raise SearchError(f"cannot sort {definition.name!r} by {path!r}")


def _keyword_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a KEYWORD path's raw terms."""
    _, spec = definition.resolve(path)
    if spec.kind is not FieldKind.KEYWORD:
        raise SearchError(f"cannot filter {definition.name!r} by {path!r}: not a keyword field")
    return spec.same_as or path


def _text_field(definition: IndexDefinition, path: str) -> str:
    """The Tantivy field (or JSON subpath) holding a TEXT path's analyzed terms."""
    parent, spec = definition.resolve(path)
    if spec.kind is not FieldKind.TEXT:
        raise SearchError(f"cannot search {definition.name!r} in {path!r}: not a text field")
    if parent is None:
        return path
    if spec.same_as is not None:
        return spec.same_as
    return f"{parent.name}{TEXT_SUFFIX}.{spec.name}"


def _atomic_write(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    with temporary.open("w") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)

"""YAML request and response bodies: a launch document is one format, JSON or YAML, in and out.

Reading YAML from strangers needs more than ``yaml.safe_load``: anchors and aliases are shared references, so
a few hundred bytes can stand for billions of nodes once turned into JSON and a ``Struct`` ("billion laughs").
The loader here refuses them, and also explicit tags, non-text and duplicate keys, several documents, a
document that is not a mapping, nesting past what a ``Struct`` carries and more nodes than any request needs.
Timestamps and merge keys (``<<``) are not resolved: JSON has neither, so a date stays the text it is.
What it reads is then checked by the route's own pydantic model, so a YAML body gets the same located 400s
as its JSON twin. The body limit (``gateway.body_limit``) applies before anything is parsed; parsing runs in a
worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import yaml
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from yaml import events as yaml_events
from yaml import nodes as yaml_nodes
from yaml._yaml import CParser
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from gateway.errors import error_body
from gateway.inputs import MAX_JSON_DEPTH
from gateway.openapi import ErrorsDeclared

YAML_MEDIA_TYPE = "application/yaml"  # RFC 9512
# What clients send for YAML besides the registered type.
_YAML_TYPES = frozenset({YAML_MEDIA_TYPE, "application/x-yaml", "text/yaml", "text/x-yaml"})
_JSON_TYPES = frozenset({"application/json"})

# A launch document is a handful of scalars, the params and the labels (the samplesheet and the config are one
# scalar each): 100 000 nodes is far more than any pipeline's params, and bounds the composer's memory.
MAX_YAML_NODES = 100_000
# The body's own mapping plus the depth a field may nest (``gateway.inputs.MAX_JSON_DEPTH``).
MAX_YAML_DEPTH = MAX_JSON_DEPTH + 1
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq"))


class YamlRefused(yaml.YAMLError):
    """A YAML body this gateway does not read, with where it is (``line 3, column 5: ...``)."""

    def __init__(self, problem: str, mark: Any = None) -> None:
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        super().__init__(where + problem)


class _Resolver(Resolver):
    """The safe loader's implicit types but timestamps and merge keys."""


_Resolver.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge")
    ]
    for first, resolvers in Resolver.yaml_implicit_resolvers.items()
}


class _StrictComposer(Composer):
    """Builds the node graph, refusing what would make it anything but a plain tree of bounded size."""

    _nodes = 0
    _depth = 0

    if TYPE_CHECKING:  # the parser's, mixed in by _Loader

        def peek_event(self) -> yaml_events.Event: ...

    def compose_node(self, parent: yaml_nodes.Node | None, index: Any) -> yaml_nodes.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml_events.AliasEvent):
            raise YamlRefused(f"aliases (*{event.anchor}) are not accepted", event.start_mark)
        anchor = getattr(event, "anchor", None)
        if anchor:
            raise YamlRefused(f"anchors (&{anchor}) are not accepted", event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in _CORE_TAGS:
            raise YamlRefused(f"the tag {tag} is not accepted (only JSON's types are)", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            raise YamlRefused(f"has more than {MAX_YAML_NODES} nodes", event.start_mark)
        collection = isinstance(event, yaml_events.CollectionStartEvent)
        if collection:
            self._depth += 1
            if self._depth > MAX_YAML_DEPTH:
                raise YamlRefused(
                    f"nests deeper than {MAX_YAML_DEPTH} levels of mappings and sequences", event.start_mark
                )
        try:
            return super().compose_node(parent, index)
        finally:
            if collection:
                self._depth -= 1


class _StrictConstructor(SafeConstructor):
    def construct_mapping(self, node: yaml_nodes.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                raise YamlRefused(f"keys must be text; found {type(key).__name__} {key!r}", key_node.start_mark)
            if key in seen:
                raise YamlRefused(f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Loader(_StrictComposer, CParser, _StrictConstructor, _Resolver):
    """libyaml scans and parses (in C, fast on megabytes of samplesheet); the composer above stays in Python,
    where it can refuse things. PyYAML's wheels ship libyaml."""

    def __init__(self, stream: bytes) -> None:
        CParser.__init__(self, stream)
        _StrictConstructor.__init__(self)
        _Resolver.__init__(self)
        self.anchors = {}


def load_yaml_mapping(data: bytes) -> dict[str, Any]:
    """One YAML document holding a mapping, as JSON values; :class:`YamlRefused` (or another
    ``yaml.YAMLError``) says why not."""
    loader = _Loader(data)
    try:
        value = loader.get_single_node()
        if value is None:
            raise YamlRefused("the body is empty; it must be a mapping")
        if not isinstance(value, yaml_nodes.MappingNode):
            raise YamlRefused("the body must be a mapping (`key: value` lines)", value.start_mark)
        document = loader.construct_document(value)
    except RecursionError:
        raise YamlRefused("nests too deep") from None
    finally:
        loader.dispose()
    return document


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_yaml(content_type: str | None) -> bool:
    kind = media_type(content_type)
    return kind in _YAML_TYPES or kind.endswith("+yaml")


_RANGE = re.compile(r"\s*([^;,\s]+)\s*((?:;[^,]*)?)")
_Q = re.compile(r";\s*q\s*=\s*([0-9.]+)")


def prefers_yaml(accept: str | None) -> bool:
    """Whether ``Accept`` ranks a YAML type above JSON (JSON is the default, and what ``*/*`` gets)."""
    best = {"yaml": 0.0, "json": 0.0}
    for part in (accept or "").split(","):
        match = _RANGE.match(part)
        if match is None:
            continue
        kind = match.group(1).lower()
        quality = _Q.search(match.group(2))
        try:
            q = float(quality.group(1)) if quality else 1.0
        except ValueError:
            continue
        if is_yaml(kind):
            best["yaml"] = max(best["yaml"], q)
        elif kind in _JSON_TYPES or kind in ("*/*", "application/*") or kind.endswith("+json"):
            best["json"] = max(best["json"], q)
    return best["yaml"] > best["json"]


class _BlockDumper(yaml.CSafeDumper):
    """Readable block style: text of several lines (a samplesheet, a config) as a literal block (``|``)."""


def _represent_text(dumper: _BlockDumper, text: str) -> yaml.Node:
    # The emitter falls back to a quoted style when a literal block cannot hold the text exactly.
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_BlockDumper.add_representer(str, _represent_text)


def dump_yaml(document: Mapping[str, Any]) -> str:
    """``document`` (JSON values) as block-style YAML in its own key order; :func:`load_yaml_mapping` reads it
    back to the same values."""
    return yaml.dump(
        dict(document), Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


async def yaml_response(document: Mapping[str, Any], *, filename: str | None = None) -> Response:
    """``document`` as a YAML response (written in a worker thread: a samplesheet may be megabytes)."""
    headers = {"Vary": "Accept"}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(await asyncio.to_thread(dump_yaml, document), media_type=YAML_MEDIA_TYPE, headers=headers)


def yaml_content(schema_name: str) -> dict[str, Any]:
    """An OpenAPI ``content`` entry: YAML with the named component schema (the JSON body's)."""
    return {YAML_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def post_with_yaml(
    router: APIRouter, path: str, *, body_schema: str, **kwargs: Any
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@router.post(path, ...)`` for a route whose body may also come as YAML (:class:`YamlBodies`); the
    document declares the YAML body with ``body_schema``, the component schema of the JSON body."""

    def decorate(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        router.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            route_class_override=YamlBodies,
            openapi_extra={"requestBody": {"content": yaml_content(body_schema)}},
            **kwargs,
        )
        return endpoint

    return decorate


def _refusal(problem: str) -> JSONResponse:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "field_violations": [{"field": "body", "description": problem}],
        }
    ]
    return JSONResponse(error_body("INVALID_ARGUMENT", "invalid YAML body", details), status_code=400)


class YamlBodies(ErrorsDeclared):
    """A route whose JSON body may come as YAML (``Content-Type: application/yaml``): the YAML is read with the
    strict loader and handed on as the JSON it stands for, so the route and its model see one body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if not is_yaml(request.headers.get("content-type")):
                return await handler(request)
            data = await request.body()
            if not data.strip():  # no body: the route's own answer (a required body is missing)
                return await handler(request)
            try:
                as_json = await asyncio.to_thread(_yaml_to_json, data)
            except yaml.YAMLError as exc:
                return _refusal(" ".join(str(exc).split()))
            return await handler(_as_json(request, as_json))

        return route


def _yaml_to_json(data: bytes) -> bytes:
    return json.dumps(load_yaml_mapping(data)).encode()


def _as_json(request: Request, body: bytes) -> Request:
    """``request`` with ``body`` as its JSON body (the original's own body was read whole)."""
    headers = [
        (name, value) for name, value in request.scope["headers"] if name not in (b"content-type", b"content-length")
    ]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    sent = False
    receive = request.receive

    async def replay() -> MutableMapping[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return Request({**request.scope, "headers": headers}, replay)

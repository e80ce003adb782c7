"""The API's naming rules that buf.yaml leaves to us, checked on the generated descriptors.

buf excepts RPC_RESPONSE_STANDARD_NAME so that AIP-style methods may return the resource itself
(`GetRun` returns `Run`); what stays a rule is checked here: streams answer `<Rpc>Response`, a unary call
answers `<Rpc>Response` or a resource message (one defined outside the `*_service.proto` files), and no
message is defined twice across the packages (one `ProcessProgress`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf.descriptor import Descriptor, FileDescriptor, MethodDescriptor

GEN = Path(__file__).resolve().parents[2] / "gen"


def _files() -> list[FileDescriptor]:
    modules = sorted(p.relative_to(GEN).with_suffix("") for p in GEN.rglob("*_pb2.py"))
    return [importlib.import_module(".".join(m.parts)).DESCRIPTOR for m in modules]


def _methods() -> Iterator[MethodDescriptor]:
    for file in _files():
        for service in file.services_by_name.values():
            yield from service.methods


def _messages(descriptors: list[Descriptor]) -> Iterator[Descriptor]:
    for message in descriptors:
        yield message
        yield from _messages(list(message.nested_types))


METHODS = sorted(_methods(), key=lambda m: m.full_name)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.full_name)
def test_rpc_message_names(method: MethodDescriptor) -> None:
    assert method.input_type.name == f"{method.name}Request"
    response = method.output_type
    if method.server_streaming or response.file.name.endswith("_service.proto"):
        assert response.name == f"{method.name}Response"
    else:  # a resource (AIP-131/133): it lives in the package's resource file
        assert response.file.package == method.containing_service.file.package


def test_every_message_has_one_definition() -> None:
    names: dict[str, list[str]] = {}
    for file in _files():
        for message in _messages(list(file.message_types_by_name.values())):
            if message.GetOptions().map_entry:
                continue  # `map<…>` fields each get a generated `<Field>Entry`, nested in their message
            names.setdefault(message.name, []).append(message.full_name)
    twice = {name: where for name, where in names.items() if len(where) > 1}
    assert not twice, f"messages defined more than once: {twice}"

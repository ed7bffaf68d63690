"""The network keywords of the typed API (kitops.api): named as the CLI flags, built in one helper."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import UsageError
from kitops.registry.remote import NetworkOptions
from tests.helpers import write_tree
from tests.realregistry import Registry

NETWORK = {"plain_http": None, "tls_verify": True, "ca_file": None, "cert": None, "key": None, "proxy": None,
           "concurrency": 5, "network": None}
REMOTE_FUNCTIONS = ["push", "pull", "unpack", "list_remote", "inspect", "info", "remove_remote", "login",
                    "remote_modelkit"]


@pytest.mark.parametrize("name", REMOTE_FUNCTIONS)
def test_every_remote_function_takes_the_network_keywords(name: str) -> None:
    params = inspect.signature(getattr(api, name)).parameters
    for key, default in NETWORK.items():
        assert params[key].kind is inspect.Parameter.KEYWORD_ONLY, (name, key)
        assert params[key].default == default, (name, key)
    if name == "push":
        assert (params["upload_mode"].default, params["chunk_size"].default) == ("auto", None)
    if name in ("push", "pull", "unpack"):
        assert {"progress", "cancel"} <= set(params)


def test_network_options_helper() -> None:
    assert api.network_options() == NetworkOptions()
    built = api.network_options(plain_http=True, tls_verify=False, ca_file=Path("/ca.pem"), concurrency=2,
                                upload_mode="chunked", chunk_size=1 << 20)
    assert (built.plain_http, built.tls_verify, built.ca_file, built.concurrency, built.upload_mode,
            built.chunk_size) == (True, False, "/ca.pem", 2, "chunked", 1 << 20)
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    base = NetworkOptions(transport=transport, proxy="http://p:1")
    assert api.network_options(base) is base  # nothing given: the caller's object as is
    merged = api.network_options(base, concurrency=3)
    assert (merged.transport, merged.proxy, merged.concurrency) == (transport, "http://p:1", 3)
    with pytest.raises(UsageError, match="concurrency"):
        api.network_options(concurrency=0)


def test_transport_injection_with_keyword_overrides(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, json={"name": "team/model", "tags": []})
        return httpx.Response(200, json={})

    rows = api.list_remote("registry.invalid/team/model", home=tmp_path, plain_http=True,
                           network=NetworkOptions(transport=httpx.MockTransport(handler)))
    assert rows == []
    assert seen and all(s.split()[1].startswith("http://registry.invalid/") for s in seen)  # plain_http applied


@pytest.mark.registry
def test_keywords_against_the_registry(plain_registry: Registry, repo_name: str, tmp_path: Path) -> None:
    project = write_tree(tmp_path / "p", {"Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n",
                                          "m.bin": b"x\n"})
    ref = f"{plain_registry.host}/{repo_name}:v1"
    home = tmp_path / "home"
    packed = api.pack(project, tag=ref, home=home)
    pushed = api.push(ref, home=home, plain_http=True, concurrency=1, upload_mode="chunked", chunk_size=1 << 20)
    assert pushed.descriptor.digest == packed.descriptor.digest
    assert api.inspect(ref, home=home, remote=True, plain_http=True).digest == packed.descriptor.digest
    assert api.info(ref, home=home, remote=True, concurrency=2).model is not None
    assert [r.digest for r in api.list_remote(ref.rsplit(":", 1)[0], home=home, plain_http=True)] == [
        packed.descriptor.digest]
    other = tmp_path / "other"
    api.pull(ref, home=other, concurrency=2)
    result = api.unpack(ref, target_dir=tmp_path / "out", home=tmp_path / "third", plain_http=True)
    assert (tmp_path / "out" / "m.bin").read_bytes() == b"x\n" and result.files >= 1
    assert api.remove_remote(ref, home=home, plain_http=True).digest == packed.descriptor.digest
    assert json.loads(api.inspect(ref, home=other).to_json())["digest"] == packed.descriptor.digest

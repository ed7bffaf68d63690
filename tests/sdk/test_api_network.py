"""The network keywords of the typed API (kitops.api): one set, named once, built in one helper."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from kitops import api
from kitops.errors import UsageError
from kitops.integrations import mlflow as kit_mlflow
from kitops.netopts import NETWORK_KEYWORDS, NetworkFlags, NetworkKeywords
from kitops.registry.remote import NetworkOptions
from tests.helpers import write_tree
from tests.realregistry import Registry

REMOTE_FUNCTIONS = [
    "push",
    "pull",
    "unpack",
    "list_remote",
    "inspect",
    "info",
    "remove_remote",
    "login",
    "remote_modelkit",
    "tag",
    "diff",
    "sign",
    "verify",
    "attest",
    "verify_attestation",
    "attach",
    "discover",
    "build_image",
    "inspect_image",
]
MLFLOW_FUNCTIONS = ["log_modelkit", "download_model", "load_model"]
# Every keyword at a value other than its default, so each one has to reach the options.
ALL_FLAGS: NetworkKeywords = {
    "plain_http": True,
    "tls_verify": False,
    "ca_file": Path("/ca.pem"),
    "cert": "/c.pem",
    "key": "/k.pem",
    "proxy": "http://proxy.invalid:3128",
    "concurrency": 3,
    "upload_mode": "chunked",
    "chunk_size": 1 << 20,
}
REMOTE = "registry.invalid/team/model:v1"


def _functions() -> list[tuple[str, Callable[..., object]]]:
    return [(f"api.{n}", getattr(api, n)) for n in REMOTE_FUNCTIONS] + [
        (f"mlflow.{n}", getattr(kit_mlflow, n)) for n in MLFLOW_FUNCTIONS
    ]


@pytest.mark.parametrize(("name", "func"), _functions(), ids=[n for n, _f in _functions()])
def test_every_remote_function_takes_the_one_set_of_network_keywords(
    name: str, func: Callable[..., object]
) -> None:
    params = inspect.signature(func).parameters.values()
    var_kw = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert [p.annotation for p in var_kw] == ["Unpack[NetworkKeywords]"], name
    assert not NETWORK_KEYWORDS & {p.name for p in params}, name  # none of them spelt out again


def test_the_keywords_are_the_options_fields() -> None:
    """Each field of NetworkOptions but the injected transport is a keyword; ``network`` is the base."""
    fields = {f.name for f in dataclasses.fields(NetworkOptions)} - {"transport"}
    assert set(NetworkFlags.__optional_keys__) == fields
    assert fields | {"network"} == NETWORK_KEYWORDS
    assert not NetworkKeywords.__required_keys__


def test_network_options_helper() -> None:
    assert api.network_options() == NetworkOptions()
    built = api.network_options(**ALL_FLAGS)
    assert dataclasses.asdict(built) == {**ALL_FLAGS, "ca_file": "/ca.pem", "transport": None}
    transport = httpx.MockTransport(lambda r: httpx.Response(200))
    base = NetworkOptions(transport=transport, proxy="http://p:1")
    assert api.network_options(base) is base  # nothing given: the caller's object as is
    assert api.network_options(base, concurrency=5, plain_http=None) is base  # defaults leave the base alone
    merged = api.network_options(base, concurrency=3)
    assert (merged.transport, merged.proxy, merged.concurrency) == (transport, "http://p:1", 3)
    assert base.concurrency == 5  # the base itself is not changed
    with pytest.raises(UsageError, match="concurrency"):
        api.network_options(concurrency=0)
    with pytest.raises(
        TypeError, match=r"^network_options\(\) got an unexpected keyword argument 'plain_htp'$"
    ):
        api.network_options(plain_htp=True)  # type: ignore[call-arg]


def _patch_api(monkeypatch: pytest.MonkeyPatch, name: str, value: object) -> None:
    """Replace ``name`` in every module of :mod:`kitops.api` that uses it: each one holds its own
    reference to the shared helper, so patching the package alone would miss them."""
    patched = []
    for info in pkgutil.iter_modules(api.__path__):
        module = importlib.import_module(f"kitops.api.{info.name}")
        if hasattr(module, name):
            monkeypatch.setattr(module, name, value)
            patched.append(info.name)
    assert patched, f"no kitops.api module uses {name}"


class _Reached(Exception):
    def __init__(self, network: NetworkOptions) -> None:
        self.network = network


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry is never asked: the options a function would open it with are raised instead."""

    def remotes(home: object, network: NetworkOptions) -> object:
        raise _Reached(network)

    _patch_api(monkeypatch, "_remotes", remotes)


def _calls(tmp_path: Path) -> dict[str, Callable[[NetworkKeywords], object]]:
    """Each remote function, called so that it goes to the registry."""
    project = write_tree(
        tmp_path / "p", {"Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n", "m.bin": b"x\n"}
    )
    api.pack(project, tag="local/model:v1")
    keys = api.generate_key_pair(b"")
    (tmp_path / "cosign.key").write_bytes(keys.private_key)
    (tmp_path / "cosign.pub").write_bytes(keys.public_key)
    (tmp_path / "card.md").write_text("# card\n")
    signing = {"signing_key": tmp_path / "cosign.key", "password": b"", "remote": True}
    return {
        "sign": lambda kw: api.sign(REMOTE, **signing, **kw),  # type: ignore[arg-type]
        "verify": lambda kw: api.verify(REMOTE, verify_key=tmp_path / "cosign.pub", remote=True, **kw),
        "attest": lambda kw: api.attest(REMOTE, predicate=b"{}", **signing, **kw),  # type: ignore[arg-type]
        "verify_attestation": lambda kw: api.verify_attestation(
            REMOTE, verify_key=tmp_path / "cosign.pub", remote=True, **kw
        ),
        "attach": lambda kw: api.attach(
            REMOTE, tmp_path / "card.md", artifact_type="text/markdown", remote=True, **kw
        ),
        "discover": lambda kw: api.discover(REMOTE, remote=True, **kw),
        "push": lambda kw: api.push("local/model:v1", REMOTE, **kw),
        "pull": lambda kw: api.pull(REMOTE, **kw),
        "unpack": lambda kw: api.unpack(REMOTE, target_dir=tmp_path / "out", **kw),
        "list_remote": lambda kw: api.list_remote("registry.invalid/team/model", **kw),
        "inspect": lambda kw: api.inspect(REMOTE, remote=True, **kw),
        "info": lambda kw: api.info(REMOTE, **kw),  # not stored: read from the registry it names
        "remove_remote": lambda kw: api.remove_remote(REMOTE, **kw),
        "login": lambda kw: api.login("registry.invalid", username="u", password="p", **kw),
        "remote_modelkit": lambda kw: api.remote_modelkit(REMOTE, **kw),
        "tag": lambda kw: api.tag(REMOTE, "registry.invalid/team/model:prod", **kw),
        "diff": lambda kw: api.diff("remote://" + REMOTE, "local/model:v1", **kw),
        "build_image": lambda kw: api.build_image(
            "local/model:v1", base="registry.invalid/base:v1", target=REMOTE, **kw
        ),
        "inspect_image": lambda kw: api.inspect_image(REMOTE, **kw),
        "mlflow.download_model": lambda kw: kit_mlflow.download_model(REMOTE, **kw),
    }


@pytest.mark.usefixtures("captured")
def test_every_remote_function_builds_the_same_options(tmp_path: Path) -> None:
    expected = api.network_options(**ALL_FLAGS)
    calls = _calls(tmp_path)
    assert set(calls) >= set(REMOTE_FUNCTIONS)
    for name, call in calls.items():
        with pytest.raises(_Reached) as reached:
            call(ALL_FLAGS)
        assert reached.value.network == expected, name
        with pytest.raises(_Reached) as reached:
            call({})
        assert reached.value.network == NetworkOptions(), name


@pytest.mark.usefixtures("captured")
def test_network_base_and_keywords_combine_in_every_function(tmp_path: Path) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(500))
    base = NetworkOptions(transport=transport, proxy="http://p:1", concurrency=7)
    for name, call in _calls(tmp_path).items():
        with pytest.raises(_Reached) as reached:
            call({"network": base, "concurrency": 2})
        got = reached.value.network
        assert (got.transport, got.proxy, got.concurrency) == (transport, "http://p:1", 2), name
        with pytest.raises(_Reached) as reached:
            call({"network": base})
        assert reached.value.network is base, name


def test_an_unknown_keyword_is_refused_before_any_work(tmp_path: Path) -> None:
    """``**net`` takes keywords no signature names: a misspelt one must still fail, naming the
    function, even where the call would never reach a registry (local reads, a missing local ref)."""
    for name, call in _calls(tmp_path).items():
        function = name.removeprefix("mlflow.")
        with pytest.raises(
            TypeError, match=rf"^{function}\(\) got an unexpected keyword argument 'plain_htp'$"
        ):
            call({"plain_htp": True})  # type: ignore[typeddict-unknown-key]
    with pytest.raises(TypeError, match=r"^info\(\)"):
        api.info("local/model:v1", plain_htp=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"^unpack\(\)"):
        api.unpack("local/model:v1", target_dir=tmp_path / "o", concurency=2)  # type: ignore[call-arg]
    assert not (tmp_path / "o").exists()


def test_local_reads_build_no_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stored ModelKit is read without the HTTP stack: its keywords are checked, not built."""
    project = write_tree(
        tmp_path / "p", {"Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n", "m.bin": b"x\n"}
    )
    api.pack(project, tag="local/model:v1")

    def never(function: str, keywords: object) -> NetworkOptions:
        raise AssertionError(f"{function} built network options for a local read")

    _patch_api(monkeypatch, "build_network", never)
    assert api.info("local/model:v1", concurrency=0).model is not None  # not built, so not refused
    assert api.inspect("local/model:v1", plain_http=True).kitfile.model is not None
    assert api.unpack("local/model:v1", target_dir=tmp_path / "out", concurrency=2).files >= 1
    api.tag("local/model:v1", "local/model:v2", upload_mode="chunked")


def test_transport_injection_with_keyword_overrides(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        if request.url.path.endswith("/tags/list"):
            return httpx.Response(200, json={"name": "team/model", "tags": []})
        return httpx.Response(200, json={})

    rows = api.list_remote(
        "registry.invalid/team/model",
        home=tmp_path,
        plain_http=True,
        network=NetworkOptions(transport=httpx.MockTransport(handler)),
    )
    assert rows == []
    assert seen and all(
        s.split()[1].startswith("http://registry.invalid/") for s in seen
    )  # plain_http applied


@pytest.mark.registry
def test_keywords_against_the_registry(plain_registry: Registry, repo_name: str, tmp_path: Path) -> None:
    project = write_tree(
        tmp_path / "p", {"Kitfile": "manifestVersion: 1.0.0\nmodel:\n  path: m.bin\n", "m.bin": b"x\n"}
    )
    ref = f"{plain_registry.host}/{repo_name}:v1"
    home = tmp_path / "home"
    packed = api.pack(project, tag=ref, home=home)
    pushed = api.push(
        ref, home=home, plain_http=True, concurrency=1, upload_mode="chunked", chunk_size=1 << 20
    )
    assert pushed.descriptor.digest == packed.descriptor.digest
    assert api.inspect(ref, home=home, remote=True, plain_http=True).digest == packed.descriptor.digest
    assert api.info(ref, home=home, remote=True, concurrency=2).model is not None
    assert [r.digest for r in api.list_remote(ref.rsplit(":", 1)[0], home=home, plain_http=True)] == [
        packed.descriptor.digest
    ]
    other = tmp_path / "other"
    api.pull(ref, home=other, concurrency=2)
    assert api.diff(ref, "remote://" + ref, home=other, concurrency=2).identical
    result = api.unpack(ref, target_dir=tmp_path / "out", home=tmp_path / "third", plain_http=True)
    assert (tmp_path / "out" / "m.bin").read_bytes() == b"x\n" and result.files >= 1
    assert api.remove_remote(ref, home=home, plain_http=True).digest == packed.descriptor.digest
    assert json.loads(api.inspect(ref, home=other).to_json())["digest"] == packed.descriptor.digest

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realregistry import Registry, require_binary, start_registry
from tests.tokenissuer import TokenIssuer


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("reg-plain"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("reg-basic"), basic_auth=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = start_registry(tmp_path_factory.mktemp("reg-tls"), basic_auth=True, tls=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry behind Bearer token auth; ``token_registry.token_issuer`` is the realm (see tests/tokenissuer.py)."""
    require_binary()
    issuer = TokenIssuer().start()
    try:
        reg = start_registry(tmp_path_factory.mktemp("reg-token"), token_auth=issuer, log_level="info")
        try:
            yield reg
        finally:
            reg.stop()
    finally:
        issuer.stop()


_counter = iter(range(1_000_000))


@pytest.fixture()
def repo_name() -> str:
    return f"test/repo{next(_counter)}"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"

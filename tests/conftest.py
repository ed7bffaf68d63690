from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.realregistry import Registry, start_registry


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


_counter = iter(range(1_000_000))


@pytest.fixture()
def repo_name() -> str:
    return f"test/repo{next(_counter)}"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"

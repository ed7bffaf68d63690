from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faultproxy import FaultProxy
from tests.realregistry import MISSING, Registry, installed, start_registry
from tests.tokenissuer import TokenIssuer


def require_binary() -> None:
    """Skip the registry tests on a machine without docker-registry, but fail them in CI, where
    a missing registry is a broken set-up rather than a reason to pass."""
    if installed():
        return
    if os.environ.get("CI"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


@pytest.fixture()
def registry_installed() -> None:
    """For tests that start registries of their own with :func:`tests.realregistry.start_registry`."""
    require_binary()


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    require_binary()
    reg = start_registry(tmp_path_factory.mktemp("reg-plain"))
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    require_binary()
    reg = start_registry(tmp_path_factory.mktemp("reg-basic"), basic_auth=True)
    yield reg
    reg.stop()


@pytest.fixture(scope="session")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    require_binary()
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


# What a developer's machine may hold that must not reach a test: credentials in the
# environment, Docker/podman configs (and the credential helpers they name), a default MLflow.
_USER_STATE = (
    "JOZU_USERNAME",
    "JOZU_PASSWORD",
    "JOZU_REGISTRY",
    "JOZU_NAMESPACE",
    "KITOPS_REGISTRY_USER",
    "KITOPS_REGISTRY_PASSWORD",
    "KITOPS_HOME",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "MLFLOW_TRACKING_URI",
    "COSIGN_PASSWORD",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_TRACKING_TOKEN",
    "KITOPS_CLIENT_CERT",
    "KITOPS_CLIENT_KEY",
)


@pytest.fixture(autouse=True)
def isolated_user_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with an empty HOME and Docker config and none of the variables above."""
    for var in _USER_STATE:
        monkeypatch.delenv(var, raising=False)
    user_home = tmp_path_factory.mktemp("user-home")
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("DOCKER_CONFIG", str(user_home / ".docker"))


_counter = iter(range(1_000_000))


@pytest.fixture()
def repo_name() -> str:
    return f"test/repo{next(_counter)}"


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture()
def fault_proxy(plain_registry: Registry) -> Iterator[FaultProxy]:
    """A fault-injecting relay in front of the plain registry (see tests/faultproxy.py)."""
    proxy = FaultProxy(plain_registry.host)
    yield proxy
    proxy.close()

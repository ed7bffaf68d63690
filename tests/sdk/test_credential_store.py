"""CredentialStore.entry / put_entry: what ModelKitManager's login sessions use to put the stored
credential back (the reference logged the user out instead), with the store's own path, key rules, file modes and lock."""

from __future__ import annotations

import json
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kitops.registry.auth import Credential
from kitops.registry.credentials import DOCKER_HUB_KEY, CredentialStore


def _file(home: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((home / "credentials.json").read_text())
    return data


def test_entry_and_put_entry(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = CredentialStore(home)
    assert store.entry("r.example.com") is None  # no file yet
    store.put_entry("r.example.com", {"auth": "dTpwdw==", "extra": {"kept": True}})
    assert store.entry("r.example.com") == {"auth": "dTpwdw==", "extra": {"kept": True}}
    assert stat.S_IMODE((home / "credentials.json").stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert store.get("r.example.com") == Credential(
        username="u", password="pw"
    )  # "dTpwdw==" is base64 of "u:pw"

    store.save(
        "docker.io", Credential(username="me", password="secret")
    )  # Docker Hub's key, as save writes it
    hub = store.entry("docker.io")
    assert hub is not None and hub == store.entry("index.docker.io")
    assert DOCKER_HUB_KEY in _file(home)["auths"]  # type: ignore[operator]

    copy = store.entry("r.example.com")
    assert copy is not None
    copy["auth"] = "changed"  # a copy: changing it changes nothing stored
    assert store.entry("r.example.com") == {"auth": "dTpwdw==", "extra": {"kept": True}}

    store.put_entry("r.example.com", None)  # None removes it, and only it
    assert store.entry("r.example.com") is None
    assert set(_file(home)["auths"]) == {DOCKER_HUB_KEY}  # type: ignore[arg-type]
    store.put_entry("never.example.com", None)  # removing what is not there is fine


def test_other_contents_of_the_file_are_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "credentials.json").write_text(
        json.dumps({"auths": {"a.io": {"auth": "x"}}, "credsStore": "none"})
    )
    store = CredentialStore(home)
    store.put_entry("b.io", {"identitytoken": "t"})
    assert _file(home) == {
        "auths": {"a.io": {"auth": "x"}, "b.io": {"identitytoken": "t"}},
        "credsStore": "none",
    }


def test_concurrent_changes_for_different_registries_are_all_kept(tmp_path: Path) -> None:
    """Every change is a locked read-modify-write: no thread's entry is lost to another's write."""
    home = tmp_path / "home"
    start = threading.Barrier(8)

    def work(i: int) -> None:
        store = CredentialStore(home)  # one store object per thread, as every kit.login creates its own
        start.wait()
        for n in range(25):
            store.put_entry(f"r{i}.io", {"auth": f"{i}-{n}"})
            store.save(f"s{i}.io", Credential(username=f"u{i}", password=str(n)))
            if n % 2:
                store.remove(f"s{i}.io")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))
    auths = _file(home)["auths"]
    assert auths == {
        **{f"r{i}.io": {"auth": f"{i}-24"} for i in range(8)},
        **{f"s{i}.io": CredentialStore(home).entry(f"s{i}.io") for i in range(8)},
    }
    assert all(
        CredentialStore(home).get(f"s{i}.io") == Credential(username=f"u{i}", password="24") for i in range(8)
    )

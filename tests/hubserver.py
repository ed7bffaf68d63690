"""A small Hugging Face Hub for the tests: the endpoints ``huggingface_hub`` calls to import a repository.

- ``GET /api/{models,datasets}/<org>/<name>[/revision/<rev>]``: the repository's info (``sha``);
- ``GET /api/{models,datasets}/<org>/<name>/tree/<rev>[/<dir>]``: the listing, ``page_size`` entries a
  page with a ``Link: <…>; rel="next"`` header (the client follows it);
- ``HEAD``/``GET /[datasets/]<org>/<name>/resolve/<rev>/<path>``: regular files are served with
  ``ETag`` = their git blob id; LFS files answer ``302`` to a second origin (the "CDN") with
  ``X-Linked-Etag`` (sha256) and ``X-Linked-Size``; every answer carries ``X-Repo-Commit``;
- ``GET /lfs/<sha256>`` on the CDN origin, with ``Range`` support.

Errors are the Hub's: ``401`` without a valid token for a private repository, ``404`` with
``X-Error-Code: RepoNotFound``, ``RevisionNotFound`` or ``EntryNotFound``. Knobs for hostile or
broken servers: extra raw listing entries, content served instead of the real bytes, and a
stall after N bytes of a file (the connection then hangs until :meth:`HubServer.release`).
Every request is recorded (method, path, ``Range``, whether it carried ``Authorization``).

Run as a script it serves a local directory as one repository, for trying ``kit import`` without
the Internet: ``python -m tests.hubserver DIR org/name --port 8765``, then
``HF_ENDPOINT=http://127.0.0.1:8765 kit import org/name``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class HubRepo:
    """One repository at one commit (also reachable by the branch names in ``branches``)."""

    files: dict[str, bytes]
    lfs: set[str] = field(default_factory=set)  # paths stored in LFS (served through the CDN)
    commit: str = "c0ffee" * 6 + "beef"
    branches: tuple[str, ...] = ("main",)
    repo_type: str = "model"
    token: str | None = None  # a private repository: this bearer token is required
    extra_entries: list[dict[str, Any]] = field(default_factory=list)  # raw entries added to the listing
    served: dict[str, bytes] = field(default_factory=dict)  # path -> bytes served instead of the content
    head_size: dict[str, int] = field(default_factory=dict)  # path -> size the HEAD claims

    def entries(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        dirs = sorted({p.rsplit("/", 1)[0] for p in self.files if "/" in p})
        out += [{"type": "directory", "oid": "0" * 40, "size": 0, "path": d} for d in dirs]
        for path in sorted(self.files):
            data = self.files[path]
            if path in self.lfs:
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256(data)}\nsize {len(data)}\n"
                entry: dict[str, Any] = {
                    "type": "file",
                    "oid": git_blob_id(pointer.encode()),
                    "size": len(data),
                    "path": path,
                    "lfs": {"oid": sha256(data), "size": len(data), "pointerSize": len(pointer)},
                }
            else:
                entry = {"type": "file", "oid": git_blob_id(data), "size": len(data), "path": path}
            out.append(entry)
        return out + self.extra_entries


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    authorized: bool
    origin: str  # "hub" or "cdn"


class HubServer:
    """The Hub on one loopback port and its CDN on another; ``repos`` maps ``org/name`` to a repo."""

    def __init__(self, page_size: int = 2, port: int = 0) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.page_size = page_size
        self.requests: list[Request] = []
        self.stall_after: dict[str, int] = {}  # sha256 -> bytes sent before the CDN hangs
        self._release = threading.Event()
        self._hub = ThreadingHTTPServer(("127.0.0.1", port), self._handler("hub"))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler("cdn"))
        for srv in (self._hub, self._cdn):
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def release(self) -> None:
        """Let stalled downloads fail (their connection closes)."""
        self._release.set()

    def close(self) -> None:
        self.release()
        for srv in (self._hub, self._cdn):
            srv.shutdown()
            srv.server_close()

    def blob(self, digest: str) -> bytes | None:
        for repo in self.repos.values():
            for path, data in repo.files.items():
                if path in repo.lfs and sha256(data) == digest:
                    return repo.served.get(path, data)
        return None

    def _handler(self, origin: str) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._dispatch(body=False)

            def do_GET(self) -> None:
                self._dispatch(body=True)

            def _dispatch(self, body: bool) -> None:
                server.requests.append(
                    Request(
                        self.command,
                        self.path,
                        self.headers.get("Range"),
                        "authorization" in {k.lower() for k in self.headers},
                        origin,
                    )
                )
                try:
                    if origin == "cdn":
                        self._cdn(body)
                    else:
                        self._hub(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            # -- responses

            def _send(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _error(self, status: int, code: str, message: str, body: bool, commit: str = "") -> None:
                headers = {
                    "Content-Type": "application/json",
                    "X-Error-Code": code,
                    "X-Error-Message": message,
                }
                if commit:
                    headers["X-Repo-Commit"] = commit
                self._send(status, json.dumps({"error": message}).encode(), headers, body)

            def _json(self, value: Any, body: bool, headers: dict[str, str] | None = None) -> None:
                self._send(
                    200,
                    json.dumps(value).encode(),
                    {"Content-Type": "application/json", **(headers or {})},
                    body,
                )

            # -- the Hub

            def _repo(self, parts: list[str], body: bool) -> tuple[HubRepo, str, list[str]] | None:
                kind = "model"
                if parts and parts[0] in ("datasets", "models"):
                    kind, parts = parts[0][:-1], parts[1:]
                repo_id = "/".join(parts[:2])
                repo = server.repos.get(repo_id)
                if repo is None or repo.repo_type != kind:
                    self._error(404, "RepoNotFound", "Repository not found", body)
                    return None
                if repo.token is not None and self.headers.get("Authorization") != f"Bearer {repo.token}":
                    self._error(401, "RepoNotFound", "Repository not found", body)
                    return None
                return repo, repo_id, parts[2:]

            def _commit(self, repo: HubRepo, rev: str, body: bool) -> bool:
                if rev in repo.branches or rev == repo.commit:
                    return True
                self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", body)
                return False

            def _hub(self, body: bool) -> None:
                split = urlsplit(self.path)
                parts = [unquote(p) for p in split.path.strip("/").split("/")]
                if parts[:1] == ["api"]:
                    found = self._repo(parts[1:], body)
                    if found is None:
                        return
                    repo, repo_id, rest = found
                    if not rest or rest[0] == "revision":
                        rev = rest[1] if len(rest) > 1 else "main"
                        if self._commit(repo, rev, body):
                            self._json(
                                {"id": repo_id, "sha": repo.commit, "private": repo.token is not None}, body
                            )
                        return
                    if rest[0] == "tree" and len(rest) >= 2:
                        if self._commit(repo, rest[1], body):
                            self._tree(repo, split.query, body)
                        return
                elif "resolve" in parts:
                    i = parts.index("resolve")
                    found = self._repo(parts[:i], body)
                    if found is None:
                        return
                    repo, _repo_id, _ = found
                    if len(parts) > i + 2 and self._commit(repo, parts[i + 1], body):
                        self._resolve(repo, "/".join(parts[i + 2 :]), body)
                    return
                self._error(404, "NotFound", "not found", body)

            def _tree(self, repo: HubRepo, query: str, body: bool) -> None:
                entries = repo.entries()
                cursor = int(parse_qs(query).get("cursor", ["0"])[0])
                page = entries[cursor : cursor + server.page_size]
                headers = {}
                if cursor + server.page_size < len(entries):
                    base = urlsplit(self.path).path
                    nxt = f"{server.url}{base}?recursive=True&cursor={cursor + server.page_size}"
                    headers["Link"] = f'<{nxt}>; rel="next"'
                self._json(page, body, headers)

            def _resolve(self, repo: HubRepo, path: str, body: bool) -> None:
                if path not in repo.files:
                    self._error(404, "EntryNotFound", f"{path} does not exist", body, repo.commit)
                    return
                data = repo.files[path]
                headers = {"X-Repo-Commit": repo.commit}
                if path in repo.lfs:
                    digest = sha256(data)
                    headers.update(
                        {
                            "Location": f"{server.cdn_url}/lfs/{digest}",
                            "X-Linked-Etag": f'"{digest}"',
                            "X-Linked-Size": str(repo.head_size.get(path, len(data))),
                            "ETag": f'"{git_blob_id(data)}"',
                        }
                    )
                    self._send(302, b"", headers, body)
                    return
                headers["ETag"] = f'"{git_blob_id(data)}"'
                served = repo.served.get(path, data)
                if path in repo.head_size and not body:
                    self.send_response(200)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(repo.head_size[path]))
                    self.end_headers()
                    return
                self._send(200, served, headers, body)

            # -- the CDN

            def _cdn(self, body: bool) -> None:
                parts = urlsplit(self.path).path.strip("/").split("/")
                data = server.blob(parts[1]) if len(parts) == 2 and parts[0] == "lfs" else None
                if data is None:
                    self._send(404, b"no such object", {}, body)
                    return
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes=") : -1])
                status = 206 if start else 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if not body:
                    return
                stall = server.stall_after.get(parts[1])
                if stall is not None and stall > start:
                    self.wfile.write(data[start:stall])
                    self.wfile.flush()
                    server._release.wait(60)
                    return  # the connection closes short of Content-Length
                self.wfile.write(data[start:])

        return Handler


LFS_SIZE = 1 << 20  # files this big, and weights, are served through the CDN as LFS files
LFS_SUFFIXES = (".gguf", ".safetensors", ".bin", ".onnx", ".pt", ".pth", ".h5", ".parquet")


def repo_from_directory(root: Path) -> HubRepo:
    """Every regular file below ``root`` (``.git`` left out), weights and big files in LFS."""
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink() and ".git" not in p.relative_to(root).parts
    }
    lfs = {k for k, v in files.items() if len(v) >= LFS_SIZE or k.endswith(LFS_SUFFIXES)}
    return HubRepo(files, lfs=lfs)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a directory as a Hugging Face Hub repository.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("repo_id", help="org/name")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    server = HubServer(page_size=1000, port=args.port)
    server.repos[args.repo_id] = repo_from_directory(args.directory)
    print(f"serving {args.directory} as {args.repo_id}: export HF_ENDPOINT={server.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

"""Helpers of the signing tests: key files, packed ModelKits, and checks made with ``cryptography``
alone (not with kitops' own reader), so that what we store is proven to follow the format."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kitops import api
from kitops.oci import mediatypes as mt
from kitops.oci.models import Descriptor, Manifest
from kitops.store.layout import LocalRepository, LocalStore
from tests.helpers import kit

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris"
PASSWORD = "correct horse"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
DSSE = "application/vnd.dsse.envelope.v1+json"
SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
ATT_ARTIFACT = "application/vnd.dev.cosign.artifact.attestation.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
FORMATS = ["kit", "modelpack"]


@dataclass(frozen=True)
class Keys:
    """Two key pairs on disk: ``key``/``pub`` (encrypted with :data:`PASSWORD`) and ``other_key``/
    ``other_pub`` (another signer, empty password)."""

    key: Path
    pub: Path
    other_key: Path
    other_pub: Path

    def private(self) -> ec.EllipticCurvePrivateKey:
        """Our private key, decrypted by kitops (for signing hand-made payloads in tests)."""
        from kitops.signing.keys import load_private_key

        signing = load_private_key(self.key.read_bytes(), PASSWORD.encode())
        der = signing.pkcs8_der()
        key = serialization.load_der_private_key(der, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def make_keys(root: Path) -> Keys:
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, password in (("cosign", PASSWORD), ("other", "")):
        pair = api.generate_key_pair(password)
        (root / f"{name}.key").write_bytes(pair.private_key)
        (root / f"{name}.pub").write_bytes(pair.public_key)
        paths += [root / f"{name}.key", root / f"{name}.pub"]
    return Keys(*paths)


def pack(home: Path, tag: str, fmt: str = "kit", note: str | None = None) -> str:
    """Pack the iris example (as ModelPack with ``fmt="modelpack"``); ``note`` makes a different
    manifest (an extra annotation). Returns the manifest digest."""
    if note is None:
        args = ["pack", str(EXAMPLE), "-t", tag, *(["--use-model-pack"] if fmt == "modelpack" else [])]
        res = kit(home, *args)
        assert res.exit_code == 0, res.output
        m = re.search(r"Model saved: (sha256:[0-9a-f]{64})", res.stdout)
        assert m, res.stdout
        return m.group(1)
    model_format = "modelpack" if fmt == "modelpack" else "kit"
    result = api.pack(EXAMPLE, tag=tag, home=home, model_format=model_format, annotations={"note": note})
    return result.descriptor.digest


def local_repo(home: Path, repo_key: str = "localhost/iris") -> LocalRepository:
    return LocalStore(home / "storage").repository(repo_key)


def sig_tag(digest: str, suffix: str = ".sig") -> str:
    return digest.replace(":", "-") + suffix


def read_local_manifest(repo: LocalRepository, ref: str) -> tuple[Descriptor, Manifest]:
    desc = repo.resolve(ref)
    return desc, Manifest.from_bytes(repo.store.blob_path(desc.digest).read_bytes())


def verify_ecdsa(pub: Path, signature_b64: str, data: bytes) -> None:
    """Check an ECDSA-SHA256 DER signature (standard base64) with ``cryptography`` alone."""
    key = serialization.load_pem_public_key(pub.read_bytes())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(base64.b64decode(signature_b64, validate=True), data, ec.ECDSA(hashes.SHA256()))


def sign_ecdsa(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def payload_for(docker_reference: str, digest: str, kind: str = "cosign container image signature") -> bytes:
    """A simple-signing payload written here, not by kitops (cosign's field order, compact)."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": digest},
            "type": kind,
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def put_blob(repo: LocalRepository, media_type: str, data: bytes, **annotations: str) -> Descriptor:
    desc = Descriptor(media_type, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    repo.push(desc, io.BytesIO(data))
    return Descriptor(media_type, desc.digest, desc.size, annotations=annotations or None)


def put_sig_manifest(repo: LocalRepository, subject: str, layers: list[Descriptor]) -> Descriptor:
    """A ``sha256-<hex>.sig`` manifest made by hand, with ``layers`` (blobs stored already)."""
    config = put_blob(repo, IMAGE_CONFIG, b'{"rootfs":{"type":"layers","diff_ids":[]}}')
    manifest = Manifest(config=config, layers=tuple(layers), media_type=mt.OCI_MANIFEST)
    data = manifest.to_bytes()
    desc = manifest.descriptor(data)
    repo.push(desc, io.BytesIO(data))
    repo.tag(desc, sig_tag(subject))
    return desc


def tamper(repo: LocalRepository, digest: str) -> None:
    """Change one byte of a stored blob, keeping its size (the store keeps blobs read-only)."""
    path = repo.store.blob_path(digest)
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


class RegistryReader:
    """Reads a real registry over plain HTTP with httpx: nothing of kitops in between."""

    def __init__(self, url: str, repository: str) -> None:
        self.base = f"{url}/v2/{repository}"

    def manifest(self, ref: str) -> tuple[str, bytes]:
        accept = ", ".join([mt.OCI_MANIFEST, mt.OCI_INDEX])
        resp = httpx.get(f"{self.base}/manifests/{ref}", headers={"Accept": accept})
        resp.raise_for_status()
        return resp.headers["docker-content-digest"], resp.content

    def manifest_json(self, ref: str) -> Any:
        return json.loads(self.manifest(ref)[1])

    def blob(self, digest: str) -> bytes:
        resp = httpx.get(f"{self.base}/blobs/{digest}", follow_redirects=True)
        resp.raise_for_status()
        assert "sha256:" + hashlib.sha256(resp.content).hexdigest() == digest
        return resp.content

    def tags(self) -> list[str]:
        resp = httpx.get(f"{self.base}/tags/list")
        resp.raise_for_status()
        return sorted(resp.json()["tags"] or [])

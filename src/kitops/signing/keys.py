"""Signing keys in the files cosign reads and writes.

A cosign private key file holds the PKCS#8 DER key encrypted the go-securesystemslib way: scrypt
derives a 32-byte key from the password, NaCl secretbox (XSalsa20-Poly1305) seals the DER, and the
parameters, salt, nonce and sealed bytes travel as a JSON document, base64-encoded in a PEM block
typed ``ENCRYPTED SIGSTORE PRIVATE KEY`` (``ENCRYPTED COSIGN PRIVATE KEY`` in older files). Plain
PKCS#8, SEC1 and PKCS#1 PEM keys load too. Public keys are PEM SubjectPublicKeyInfo.

Signatures follow cosign: ECDSA over SHA-256 (SHA-384 on P-384, SHA-512 on P-521) encoded as ASN.1
DER, RSA PKCS#1 v1.5 over SHA-256, and Ed25519 over the message itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Callable

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from kitops.errors import UsageError
from kitops.oci import gojson
from kitops.signing.errors import KeyFileError, PasswordError, SignatureError

SIGSTORE_PRIVATE_KEY_PEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PRIVATE_KEY_PEM = "ENCRYPTED COSIGN PRIVATE KEY"
PUBLIC_KEY_PEM = "PUBLIC KEY"

VERIFY_FAILED = "signature does not verify with the given key"
PASSWORD_NEEDED = "the private key is encrypted: a password is needed"
PASSWORD_WRONG = "decryption failed: the password is wrong or the key file is damaged"
_PASSWORD_HINT = "check the password (COSIGN_PASSWORD, or the one typed at the prompt)"

# The only scrypt parameter sets go-securesystemslib decrypts (legacy, standard, OWASP), so that a
# key file cannot make the reader spend unbounded memory or time. The first is what cosign writes.
SCRYPT_PARAMETERS: tuple[tuple[int, int, int], ...] = ((32768, 8, 1), (65536, 8, 1), (131072, 8, 1))
_SALT_SIZE = 32
_KEY_SIZE = 32

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

# curve name -> (algorithm name, the hash cosign signs with on that curve)
_CURVES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "secp256r1": ("ecdsa-p256", hashes.SHA256),
    "secp384r1": ("ecdsa-p384", hashes.SHA384),
    "secp521r1": ("ecdsa-p521", hashes.SHA512),
}

_GENERATORS: dict[str, Callable[[], PrivateKey]] = {
    "ecdsa-p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "ecdsa-p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "ecdsa-p521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
    "rsa-2048": lambda: rsa.generate_private_key(65537, 2048),
    "rsa-3072": lambda: rsa.generate_private_key(65537, 3072),
    "rsa-4096": lambda: rsa.generate_private_key(65537, 4096),
}
# cosign's --signing-algorithm names for the same keys
_ALIASES = {
    "ecdsa-sha2-256-nistp256": "ecdsa-p256",
    "ecdsa-sha2-384-nistp384": "ecdsa-p384",
    "ecdsa-sha2-512-nistp521": "ecdsa-p521",
    "rsa-sign-pkcs1-2048-sha256": "rsa-2048",
    "rsa-sign-pkcs1-3072-sha256": "rsa-3072",
    "rsa-sign-pkcs1-4096-sha256": "rsa-4096",
}
ALGORITHMS = tuple(_GENERATORS)


def _algorithm_of(key: PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        known = _CURVES.get(key.curve.name)
        if known is None:
            raise KeyFileError(
                f"unsupported elliptic curve {key.curve.name}", hint="use P-256, P-384 or P-521"
            )
        return known[0]
    if isinstance(key, rsa.RSAPublicKey):
        return f"rsa-{key.key_size}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519"
    raise KeyFileError(f"unsupported key type {type(key).__name__}", hint="use an ECDSA, RSA or Ed25519 key")


class VerifyKey:
    """A public key that checks signatures the way cosign makes them."""

    __slots__ = ("_der", "_key", "algorithm")

    def __init__(self, key: PublicKey) -> None:
        self.algorithm: str = _algorithm_of(key)
        self._key = key
        self._der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the SubjectPublicKeyInfo DER: names the key without showing it."""
        return hashlib.sha256(self._der).hexdigest()

    def der(self) -> bytes:
        """The SubjectPublicKeyInfo DER."""
        return self._der

    def pem(self) -> bytes:
        """``-----BEGIN PUBLIC KEY-----`` PEM, the content of ``cosign.pub``."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` signs ``data`` under this key; raise :class:`SignatureError` if not."""
        key = self._key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                _check_der(signature)
                for algorithm in _ecdsa_hashes(key):
                    try:
                        key.verify(signature, data, ec.ECDSA(algorithm()))
                        return
                    except InvalidSignature:
                        continue
                raise InvalidSignature
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
                return
            if len(signature) != 64:
                raise SignatureError("signature is not a 64-byte Ed25519 signature")
            key.verify(signature, data)
        except InvalidSignature:
            raise SignatureError(VERIFY_FAILED) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifyKey) and other._der == self._der

    def __hash__(self) -> int:
        return hash(self._der)

    def __repr__(self) -> str:
        return f"VerifyKey({self.algorithm}, sha256:{self.fingerprint[:16]})"


def _ecdsa_hashes(key: ec.EllipticCurvePublicKey) -> list[type[hashes.HashAlgorithm]]:
    """The curve's own hash first, then SHA-256: older cosign releases signed every curve over SHA-256,
    and both hashes are collision resistant, so accepting either costs no security."""
    own = _CURVES[key.curve.name][1]
    return [own] if own is hashes.SHA256 else [own, hashes.SHA256]


def _check_der(signature: bytes) -> None:
    """Refuse anything but canonical DER ``SEQUENCE {r, s}``, as Go's ``ecdsa.VerifyASN1`` does; a
    truncated or padded signature gets its own message rather than a generic mismatch."""
    try:
        r, s = decode_dss_signature(signature)
    except ValueError:
        r = s = -1
    if r < 0 or s < 0 or encode_dss_signature(r, s) != signature:
        raise SignatureError("signature is not a DER-encoded ECDSA signature")


class SigningKey:
    """A private key that signs as cosign does. Its repr and str never show key material."""

    __slots__ = ("_key", "algorithm", "public_key")

    def __init__(self, key: PrivateKey) -> None:
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
            raise KeyFileError(
                f"unsupported key type {type(key).__name__}", hint="use an ECDSA, RSA or Ed25519 key"
            )
        self._key = key
        self.public_key = VerifyKey(key.public_key())
        self.algorithm: str = self.public_key.algorithm

    def sign(self, data: bytes) -> bytes:
        """The signature of ``data``: DER for ECDSA, raw bytes for RSA and Ed25519."""
        key = self._key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(_CURVES[key.curve.name][1]()))
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data)

    def pkcs8_der(self) -> bytes:
        """The unencrypted PKCS#8 DER (what cosign encrypts); keep it out of logs and files."""
        return self._key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def __repr__(self) -> str:
        return f"SigningKey({self.algorithm}, sha256:{self.public_key.fingerprint[:16]})"


# --- the go-securesystemslib "encrypted" format --------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyFileError(f"the encrypted private key has no valid {what}")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"the {what} of the encrypted private key is not valid base64") from None


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=_KEY_SIZE, n=n, r=r, p=p).derive(password)


def encrypt(plaintext: bytes, password: bytes) -> bytes:
    """Seal ``plaintext`` as go-securesystemslib's ``encrypted.Encrypt`` does; returns the JSON document
    (Go's field order) with a fresh salt and nonce. An empty password is allowed and still encrypts."""
    n, r, p = SCRYPT_PARAMETERS[0]
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(SecretBox.NONCE_SIZE)
    sealed = SecretBox(_scrypt(password, salt, n, r, p)).encrypt(plaintext, nonce).ciphertext
    document = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": _b64encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64encode(nonce)},
        "ciphertext": _b64encode(sealed),
    }
    return gojson.dump_bytes(document)


def decrypt(document: bytes, password: bytes) -> bytes:
    """Open a go-securesystemslib ``encrypted`` JSON document. Raises :class:`KeyFileError` for a
    malformed document or parameters outside the accepted sets, :class:`PasswordError` when the
    authenticator does not match (wrong password)."""
    try:
        doc = json.loads(document)
        kdf, cipher = doc["kdf"], doc["cipher"]
        kdf_name, params, cipher_name = kdf["name"], kdf["params"], cipher["name"]
        n, r, p = params["N"], params["r"], params["p"]
    except (ValueError, KeyError, TypeError):
        raise KeyFileError("the encrypted private key is not a scrypt/secretbox JSON document") from None
    if kdf_name != "scrypt":
        raise KeyFileError(f"unsupported key derivation function {kdf_name!r} in the encrypted private key")
    if cipher_name != "nacl/secretbox":
        raise KeyFileError(f"unsupported cipher {cipher_name!r} in the encrypted private key")
    if not all(type(v) is int for v in (n, r, p)) or (n, r, p) not in SCRYPT_PARAMETERS:
        raise KeyFileError(f"unsupported scrypt parameters (N={n}, r={r}, p={p})")
    salt = _b64decode(kdf.get("salt"), "salt")
    nonce = _b64decode(cipher.get("nonce"), "nonce")
    sealed = _b64decode(doc.get("ciphertext"), "ciphertext")
    if len(nonce) != SecretBox.NONCE_SIZE:
        raise KeyFileError(f"the nonce of the encrypted private key has {len(nonce)} bytes, not 24")
    try:
        return SecretBox(_scrypt(password, salt, n, r, p)).decrypt(sealed, nonce)
    except CryptoError:
        raise PasswordError(PASSWORD_WRONG, hint=_PASSWORD_HINT) from None


# --- PEM -------------------------------------------------------------------------------------------

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----\r?\n?", re.DOTALL)
_ENCRYPTED_TYPES = (SIGSTORE_PRIVATE_KEY_PEM, COSIGN_PRIVATE_KEY_PEM)
_PLAIN_TYPES = ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY")


def _pem_encode(kind: str, der: bytes) -> bytes:
    """PEM as Go's ``pem.EncodeToMemory`` writes it: 64-column base64, a newline after the footer."""
    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return b"".join(
        [
            f"-----BEGIN {kind}-----\n".encode(),
            *(ln + b"\n" for ln in lines),
            f"-----END {kind}-----\n".encode(),
        ]
    )


def _pem_blocks(data: bytes) -> list[tuple[str, bytes, bytes]]:
    """(type, body, whole block) of every PEM block; other text around them is ignored, as Go does."""
    return [(m.group(1).decode("ascii"), m.group(2), m.group(0)) for m in _PEM_RE.finditer(data)]


def _private_block(pem: bytes) -> tuple[str, bytes, bytes]:
    # An "EC PARAMETERS" block may come first (openssl ecparam -genkey writes one): skip it.
    for block in _pem_blocks(pem):
        if block[0].endswith("PRIVATE KEY"):
            return block
    raise KeyFileError("no PEM private key found", hint="pass the private key file (cosign.key)")


def _is_encrypted(kind: str, body: bytes) -> bool:
    return kind in _ENCRYPTED_TYPES or kind == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in body


def key_needs_password(pem: bytes) -> bool:
    """Whether loading this private key needs a password (decides whether to prompt for one)."""
    kind, body, _ = _private_block(pem)
    return _is_encrypted(kind, body)


def load_private_key(pem: bytes, password: bytes | None) -> SigningKey:
    """Load a cosign encrypted key, or a PKCS#8 / SEC1 / PKCS#1 PEM key (plain, or encrypted with the
    password). A password given for an unencrypted key is ignored: COSIGN_PASSWORD may be set anyway."""
    kind, body, block = _private_block(pem)
    encrypted = _is_encrypted(kind, body)
    if encrypted and password is None:
        raise PasswordError(PASSWORD_NEEDED, hint="give the password the key was encrypted with")
    if kind in _ENCRYPTED_TYPES:
        try:
            document = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(f"the body of the {kind} PEM block is not valid base64") from None
        der = decrypt(document, password or b"")
        try:
            key = serialization.load_der_private_key(der, None)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFileError("the decrypted private key is not a PKCS#8 key") from None
    elif kind in _PLAIN_TYPES:
        try:
            key = serialization.load_pem_private_key(block, password if encrypted else None)
        except ValueError:
            if encrypted:
                raise PasswordError(PASSWORD_WRONG, hint=_PASSWORD_HINT) from None
            raise KeyFileError(f"the {kind} PEM block cannot be parsed") from None
        except UnsupportedAlgorithm:
            raise KeyFileError(f"the {kind} PEM block holds an unsupported key") from None
    else:
        raise KeyFileError(f"unsupported private key PEM type {kind!r}")
    return SigningKey(key)  # type: ignore[arg-type]  # SigningKey refuses other key types itself


def load_public_key(pem: bytes) -> VerifyKey:
    """Load a PEM public key (SubjectPublicKeyInfo, or PKCS#1 ``RSA PUBLIC KEY``), e.g. ``cosign.pub``."""
    for kind, _body, block in _pem_blocks(pem):
        if kind in (PUBLIC_KEY_PEM, "RSA PUBLIC KEY"):
            try:
                key = serialization.load_pem_public_key(block)
            except (ValueError, UnsupportedAlgorithm):
                raise KeyFileError(f"the {kind} PEM block cannot be parsed") from None
            return VerifyKey(key)  # type: ignore[arg-type]  # VerifyKey refuses other key types itself
    raise KeyFileError("no PEM public key found", hint="pass the public key file (cosign.pub)")


def encrypt_private_key(key: SigningKey, password: bytes) -> bytes:
    """The ``ENCRYPTED SIGSTORE PRIVATE KEY`` PEM of ``key``, as ``cosign generate-key-pair`` writes."""
    return _pem_encode(SIGSTORE_PRIVATE_KEY_PEM, encrypt(key.pkcs8_der(), password))


def generate_key_pair(password: bytes, *, algorithm: str = "ecdsa-p256") -> tuple[bytes, bytes]:
    """A new key pair: (encrypted private key PEM, public key PEM), ready to write as ``cosign.key``
    (mode 0600) and ``cosign.pub``. ``algorithm`` is one of :data:`ALGORITHMS` or cosign's name."""
    generate = _GENERATORS.get(_ALIASES.get(algorithm, algorithm))
    if generate is None:
        raise UsageError(
            f"unsupported signing algorithm {algorithm!r}", hint="use one of " + ", ".join(ALGORITHMS)
        )
    key = SigningKey(generate())
    return encrypt_private_key(key, password), key.public_key.pem()

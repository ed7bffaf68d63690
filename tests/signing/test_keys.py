"""Key files as cosign writes and reads them, pinned by published facts rather than by copied files:
go-securesystemslib's test vector, the JSON/PEM layout of an encrypted key, and an independent
decryption with ``cryptography`` and PyNaCl alone."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from nacl.secret import SecretBox

from kitops.errors import UsageError
from kitops.signing import keys
from kitops.signing.errors import KeyFileError, PasswordError, SignatureError
from kitops.signing.keys import (
    SigningKey,
    generate_key_pair,
    key_needs_password,
    load_private_key,
    load_public_key,
)
from kitops.signing.payloads import decode_signature, encode_signature

# go-securesystemslib encrypted_test.go: passphrase "supersecret", legacy parameters (N=32768).
GO_VECTOR = (
    b'{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},'
    b'"salt":"N9a7x5JFGbrtB2uBR81jPwp0eiLR4A7FV3mjVAQrg1g="},'
    b'"cipher":{"name":"nacl/secretbox","nonce":"2h8HxMmgRfuYdpswZBQaU3xJ1nkA/5Ik"},'
    b'"ciphertext":"SEW6sUh0jf2wfdjJGPNS9+bkk2uB+Cxamf32zR8XkQ=="}'
)
PASSWORD = b"correct horse"
DATA = b"the bytes being signed"


def _seal(plaintext: bytes, password: bytes, n: int, r: int = 8, p: int = 1) -> bytes:
    """An encrypted document built here with cryptography and PyNaCl, not with the reader under test."""
    salt, nonce = b"s" * 32, b"n" * 24
    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)
    sealed = SecretBox(key).encrypt(plaintext, nonce).ciphertext
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    doc = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64(nonce)},
        "ciphertext": b64(sealed),
    }
    return json.dumps(doc).encode()


def _pem_body(pem: bytes, kind: str) -> bytes:
    m = re.fullmatch(
        rf"-----BEGIN {kind}-----\n((?:[A-Za-z0-9+/=]{{1,64}}\n)+)-----END {kind}-----\n".encode(), pem
    )
    assert m, pem
    return base64.b64decode(m.group(1))


# --- the go-securesystemslib format -------------------------------------------------------------


def test_go_vector_decrypts() -> None:
    assert keys.decrypt(GO_VECTOR, b"supersecret") == b"reallyimportant"


def test_go_vector_wrong_password() -> None:
    with pytest.raises(PasswordError) as err:
        keys.decrypt(GO_VECTOR, b"superSecret")
    assert err.value.message == "decryption failed: the password is wrong or the key file is damaged"


@pytest.mark.parametrize(("n", "r", "p"), [(16384, 8, 1), (32768, 16, 1), (32768, 8, 2), (1 << 20, 8, 1)])
def test_unsupported_scrypt_parameters_are_refused(n: int, r: int, p: int) -> None:
    doc = json.loads(GO_VECTOR)
    doc["kdf"]["params"] = {"N": n, "r": r, "p": p}
    with pytest.raises(KeyFileError) as err:
        keys.decrypt(json.dumps(doc).encode(), b"supersecret")
    assert err.value.message == f"unsupported scrypt parameters (N={n}, r={r}, p={p})"


@pytest.mark.parametrize("n", [32768, 65536, 131072])
def test_the_three_accepted_parameter_sets_decrypt(n: int) -> None:
    assert keys.decrypt(_seal(b"reallyimportant", b"pw", n), b"pw") == b"reallyimportant"


def test_other_kdf_and_cipher_are_refused() -> None:
    doc = json.loads(GO_VECTOR)
    doc["kdf"]["name"] = "pbkdf2"
    with pytest.raises(KeyFileError, match=r"^unsupported key derivation function 'pbkdf2'"):
        keys.decrypt(json.dumps(doc).encode(), b"supersecret")
    doc = json.loads(GO_VECTOR)
    doc["cipher"]["name"] = "aes-gcm"
    with pytest.raises(KeyFileError, match=r"^unsupported cipher 'aes-gcm'"):
        keys.decrypt(json.dumps(doc).encode(), b"supersecret")


def test_encrypt_writes_go_layout() -> None:
    document = keys.encrypt(b"plaintext", b"")
    doc = json.loads(document)
    # Go's json.Marshal of the securesystemslib structs: this key order, no spaces.
    assert list(doc) == ["kdf", "cipher", "ciphertext"]
    assert list(doc["kdf"]) == ["name", "params", "salt"]
    assert doc["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert list(doc["kdf"]["params"]) == ["N", "r", "p"]
    assert doc["cipher"]["name"] == "nacl/secretbox" and doc["kdf"]["name"] == "scrypt"
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24
    assert len(base64.b64decode(doc["ciphertext"])) == len(b"plaintext") + 16  # tag, no nonce prefix
    assert b" " not in document
    assert keys.decrypt(document, b"") == b"plaintext"  # an empty password still encrypts


# --- generate-key-pair --------------------------------------------------------------------------


def test_generate_then_load_round_trip() -> None:
    private_pem, public_pem = generate_key_pair(PASSWORD)
    assert private_pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert key_needs_password(private_pem)
    key = load_private_key(private_pem, PASSWORD)
    assert key.algorithm == "ecdsa-p256"
    assert key.public_key.pem() == public_pem
    public = load_public_key(public_pem)
    public.verify(key.sign(DATA), DATA)
    assert public == key.public_key


def test_our_key_file_decrypts_with_cryptography_and_nacl_alone() -> None:
    """A reader that follows the published format (not ours) gets the PKCS#8 P-256 key of cosign.pub."""
    private_pem, public_pem = generate_key_pair(PASSWORD)
    doc = json.loads(_pem_body(private_pem, "ENCRYPTED SIGSTORE PRIVATE KEY"))
    params = doc["kdf"]["params"]
    assert (params["N"], params["r"], params["p"]) == (32768, 8, 1)
    secret = Scrypt(
        salt=base64.b64decode(doc["kdf"]["salt"]), length=32, n=params["N"], r=params["r"], p=params["p"]
    ).derive(PASSWORD)
    der = SecretBox(secret).decrypt(
        base64.b64decode(doc["ciphertext"]), base64.b64decode(doc["cipher"]["nonce"])
    )
    private = serialization.load_der_private_key(der, None)
    assert isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1"
    # the DER is PKCS#8 precisely (not SEC1): re-encoding as PKCS#8 gives the same bytes
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert der == pkcs8
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert _pem_body(public_pem, "PUBLIC KEY") == spki


def test_wrong_and_missing_password() -> None:
    private_pem, _ = generate_key_pair(PASSWORD)
    with pytest.raises(PasswordError) as err:
        load_private_key(private_pem, b"not it")
    assert err.value.message == "decryption failed: the password is wrong or the key file is damaged"
    with pytest.raises(PasswordError) as err:
        load_private_key(private_pem, None)
    assert err.value.message == "the private key is encrypted: a password is needed"


def test_older_cosign_pem_type_loads() -> None:
    private_pem, _ = generate_key_pair(b"")
    older = private_pem.replace(b"ENCRYPTED SIGSTORE PRIVATE KEY", b"ENCRYPTED COSIGN PRIVATE KEY")
    assert key_needs_password(older)
    assert load_private_key(older, b"").algorithm == "ecdsa-p256"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [("ed25519", "ed25519"), ("ecdsa-p384", "ecdsa-p384"), ("ecdsa-sha2-512-nistp521", "ecdsa-p521")],
)
def test_generate_other_algorithms(algorithm: str, expected: str) -> None:
    private_pem, public_pem = generate_key_pair(b"", algorithm=algorithm)
    key = load_private_key(private_pem, b"")
    assert key.algorithm == expected
    load_public_key(public_pem).verify(key.sign(DATA), DATA)


def test_generate_unknown_algorithm() -> None:
    with pytest.raises(UsageError, match=r"^unsupported signing algorithm 'dsa'$"):
        generate_key_pair(b"", algorithm="dsa")


# --- plain PEM keys made by cryptography ----------------------------------------------------------

_PKCS8 = serialization.PrivateFormat.PKCS8
_TRADITIONAL = serialization.PrivateFormat.TraditionalOpenSSL  # SEC1 for EC, PKCS#1 for RSA


def _pem(private: object, fmt: serialization.PrivateFormat) -> bytes:
    assert isinstance(private, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey)
    return private.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


@pytest.mark.parametrize(
    ("make", "fmt", "header", "algorithm"),
    [
        (lambda: ec.generate_private_key(ec.SECP256R1()), _PKCS8, b"PRIVATE KEY", "ecdsa-p256"),
        (lambda: ec.generate_private_key(ec.SECP256R1()), _TRADITIONAL, b"EC PRIVATE KEY", "ecdsa-p256"),
        (lambda: ec.generate_private_key(ec.SECP384R1()), _PKCS8, b"PRIVATE KEY", "ecdsa-p384"),
        (lambda: ec.generate_private_key(ec.SECP521R1()), _TRADITIONAL, b"EC PRIVATE KEY", "ecdsa-p521"),
        (lambda: rsa.generate_private_key(65537, 2048), _PKCS8, b"PRIVATE KEY", "rsa-2048"),
        (lambda: rsa.generate_private_key(65537, 2048), _TRADITIONAL, b"RSA PRIVATE KEY", "rsa-2048"),
        (ed25519.Ed25519PrivateKey.generate, _PKCS8, b"PRIVATE KEY", "ed25519"),
    ],
)
def test_plain_pem_keys_load_and_sign_as_cosign(
    make: object, fmt: serialization.PrivateFormat, header: bytes, algorithm: str
) -> None:
    assert callable(make)
    private = make()
    pem = _pem(private, fmt)
    assert pem.startswith(b"-----BEGIN " + header + b"-----\n")
    assert not key_needs_password(pem)
    key = load_private_key(pem, b"ignored: COSIGN_PASSWORD may be set for a plain key")
    assert key.algorithm == algorithm
    signature = key.sign(DATA)
    public = private.public_key()
    # checked by cryptography directly, with the scheme cosign uses for the key type
    if isinstance(public, ec.EllipticCurvePublicKey):
        digest = {"ecdsa-p256": hashes.SHA256, "ecdsa-p384": hashes.SHA384, "ecdsa-p521": hashes.SHA512}[
            algorithm
        ]
        public.verify(signature, DATA, ec.ECDSA(digest()))
    elif isinstance(public, rsa.RSAPublicKey):
        public.verify(signature, DATA, padding.PKCS1v15(), hashes.SHA256())
    else:
        assert isinstance(public, ed25519.Ed25519PublicKey) and len(signature) == 64
        public.verify(signature, DATA)
    key.public_key.verify(signature, DATA)


def test_ec_parameters_block_before_the_key_is_skipped() -> None:
    pem = _pem(ec.generate_private_key(ec.SECP256R1()), _TRADITIONAL)
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    assert load_private_key(params + pem, None).algorithm == "ecdsa-p256"


def test_password_encrypted_pkcs8() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, _PKCS8, serialization.BestAvailableEncryption(b"pkcs8 password")
    )
    assert key_needs_password(pem)
    assert load_private_key(pem, b"pkcs8 password").algorithm == "ecdsa-p256"
    with pytest.raises(PasswordError, match=r"^decryption failed"):
        load_private_key(pem, b"other")


def test_p384_signature_over_sha256_still_verifies() -> None:
    """cosign before per-curve hashes signed P-384 keys over SHA-256."""
    private = ec.generate_private_key(ec.SECP384R1())
    signature = private.sign(DATA, ec.ECDSA(hashes.SHA256()))
    SigningKey(private).public_key.verify(signature, DATA)


def test_unsupported_keys_and_garbage() -> None:
    with pytest.raises(KeyFileError, match=r"^unsupported elliptic curve secp256k1$"):
        load_private_key(_pem(ec.generate_private_key(ec.SECP256K1()), _PKCS8), None)
    with pytest.raises(KeyFileError, match=r"^no PEM private key found$"):
        load_private_key(b"not a key", None)
    with pytest.raises(KeyFileError, match=r"^no PEM private key found$"):
        key_needs_password(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(KeyFileError, match=r"^no PEM public key found$"):
        load_public_key(b"not a key")
    with pytest.raises(KeyFileError, match=r"^the PUBLIC KEY PEM block cannot be parsed$"):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


# --- signatures -------------------------------------------------------------------------------------


def test_signature_is_der_and_standard_base64() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    der = SigningKey(private).sign(DATA)
    r, s = decode_dss_signature(der)  # ASN.1 DER SEQUENCE {r, s}
    assert der[0] == 0x30 and r > 0 and s > 0
    text = encode_signature(der)
    assert text == base64.standard_b64encode(der).decode()
    assert base64.b64decode(text, validate=True) == der
    private.public_key().verify(base64.b64decode(text), DATA, ec.ECDSA(hashes.SHA256()))
    assert decode_signature(text) == der


def test_fingerprint_is_sha256_of_spki() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    spki = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert SigningKey(private).public_key.fingerprint == hashlib.sha256(spki).hexdigest()


def test_repr_shows_no_key_material() -> None:
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    assert repr(key).startswith("SigningKey(ecdsa-p256, sha256:")
    assert base64.b64encode(key.pkcs8_der()).decode()[:20] not in repr(key)


def test_tampered_data_fails() -> None:
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    signature = key.sign(DATA)
    with pytest.raises(SignatureError) as err:
        key.public_key.verify(signature, DATA + b"!")
    assert err.value.message == "signature does not verify with the given key"


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
)
def test_other_key_fails(make: object) -> None:
    assert callable(make)
    signature = SigningKey(make()).sign(DATA)
    other = SigningKey(make()).public_key
    with pytest.raises(SignatureError) as err:
        other.verify(signature, DATA)
    assert err.value.message == "signature does not verify with the given key"


def test_truncated_der_has_its_own_message() -> None:
    key = SigningKey(ec.generate_private_key(ec.SECP256R1()))
    signature = key.sign(DATA)
    for broken in (signature[:-1], signature[:10], signature + b"\x00", b""):
        with pytest.raises(SignatureError) as err:
            key.public_key.verify(broken, DATA)
        assert err.value.message == "signature is not a DER-encoded ECDSA signature"


def test_short_ed25519_signature() -> None:
    key = SigningKey(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(SignatureError, match=r"^signature is not a 64-byte Ed25519 signature$"):
        key.public_key.verify(key.sign(DATA)[:63], DATA)


def test_bad_base64_signature() -> None:
    for text in ("MEUCIQ*", "MEUCIQ", "   "):
        with pytest.raises(SignatureError) as err:
            decode_signature(text)
        assert err.value.message == "signature is not valid base64"
    with pytest.raises(SignatureError, match=r"^signature is empty$"):
        decode_signature("")

"""Cosign-compatible signing of OCI manifests: keys, signed payloads, DSSE attestations, bundles.

The submodules are imported on demand (``kitops.signing.keys`` pulls in ``cryptography`` and
PyNaCl), so importing this package costs nothing.
"""

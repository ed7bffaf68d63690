"""The public Python API of kitops: one function per ``kit`` command.

The CLI is a thin layer over exactly these functions. Options are keyword-only and
named as the CLI flags are (``compression``, ``filters``, ``overwrite``...). Every
function takes ``home`` (the ``$KITOPS_HOME`` to use; default: resolved like the
Go CLI) and raises :mod:`kitops.errors` types; none prints, prompts or chdirs. Every function
that talks to a registry takes the same network keywords (:class:`kitops.netopts.NetworkKeywords`:
``plain_http``, ``tls_verify``, ``concurrency``, ..., ``network``).

One module per group of commands (:mod:`kitops.api.packing`, :mod:`~kitops.api.remote`,
:mod:`~kitops.api.signing`, ...); every public name is importable from here.
"""

from kitops.api._common import (
    KITFILE_NAMES,
    Home,
    local_store,
    network_options,
)
from kitops.api.archive import (
    ArchiveEntry,
    LoadResult,
    SaveResult,
    load,
    save,
)
from kitops.api.images import (
    ImageBuildResult,
    build_image,
    inspect_image,
)
from kitops.api.importing import (
    import_hf,
)
from kitops.api.kitfiles import (
    find_kitfile,
    init,
    load_kitfile,
)
from kitops.api.local import (
    InspectResult,
    Removal,
    cache_clear,
    cache_info,
    diff,
    filter_kitfile_yaml,
    info,
    inspect,
    list_modelkits,
    remove,
    tag,
)
from kitops.api.packing import (
    pack,
    unpack,
)
from kitops.api.remote import (
    TransferResult,
    list_remote,
    login,
    logout,
    pull,
    push,
    remote_modelkit,
    remove_remote,
)
from kitops.api.signing import (
    MAX_KEY_FILE,
    MAX_PREDICATE,
    AttestationResult,
    DiscoverResult,
    KeyPair,
    KeySource,
    Password,
    ReferrerResult,
    VerifyResult,
    attach,
    attest,
    discover,
    generate_key_pair,
    sign,
    verify,
    verify_attestation,
)

__all__ = [
    "KITFILE_NAMES",
    "MAX_KEY_FILE",
    "MAX_PREDICATE",
    "ArchiveEntry",
    "AttestationResult",
    "DiscoverResult",
    "Home",
    "ImageBuildResult",
    "InspectResult",
    "KeyPair",
    "KeySource",
    "LoadResult",
    "Password",
    "ReferrerResult",
    "Removal",
    "SaveResult",
    "TransferResult",
    "VerifyResult",
    "attach",
    "attest",
    "build_image",
    "cache_clear",
    "cache_info",
    "diff",
    "discover",
    "filter_kitfile_yaml",
    "find_kitfile",
    "generate_key_pair",
    "import_hf",
    "info",
    "init",
    "inspect",
    "inspect_image",
    "list_modelkits",
    "list_remote",
    "load",
    "load_kitfile",
    "local_store",
    "login",
    "logout",
    "network_options",
    "pack",
    "pull",
    "push",
    "remote_modelkit",
    "remove",
    "remove_remote",
    "save",
    "sign",
    "tag",
    "unpack",
    "verify",
    "verify_attestation",
]

"""Every PyKitOps 1.5.0 import path, with the reference's signatures and defaults."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from typing import Any

import pytest

EMPTY = inspect.Parameter.empty
POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
VAR_KW = inspect.Parameter.VAR_KEYWORD

# name -> the reference's parameters in order: (name, default) with EMPTY for "required";
# "**" marks **kwargs. Taken from PyKitOps 1.5.0.
KIT_FUNCTIONS: dict[str, list[tuple[str, Any]]] = {
    "import_from_hf": [("repo_path_without_tag", EMPTY), ("**", None)],
    "info": [("repo_path_with_tag", EMPTY), ("filters", None), ("remote", False), ("**", None)],
    "init": [("directory", EMPTY), ("name", EMPTY), ("description", " "), ("author", " "), ("**", None)],
    "inspect": [("repo_path_with_tag", EMPTY), ("remote", False), ("**", None)],
    "list": [("repo_path_without_tag", None), ("**", None)],
    "login": [("user", EMPTY), ("passwd", EMPTY), ("registry", "jozu.ml"), ("**", None)],
    "logout": [("registry", "jozu.ml"), ("**", None)],
    "pack": [("repo_path_with_tag", EMPTY), ("working_directory", "."), ("**", None)],
    "pull": [("repo_path_with_tag", EMPTY), ("**", None)],
    "push": [("repo_path_with_tag", EMPTY), ("**", None)],
    "remove": [("repo_path_with_tag", EMPTY), ("remote", False), ("**", None)],
    "tag": [("repo_path_with_tag", EMPTY), ("repo_path_with_new_tag", EMPTY), ("**", None)],
    "unpack": [("repo_path_with_tag", EMPTY), ("dir", EMPTY), ("filters", None), ("**", None)],
    "version": [("**", None)],
    "_run": [("command", EMPTY), ("input", None), ("verbose", True), ("**", None)],
}

METHODS: dict[str, list[tuple[str, Any]]] = {
    "kitops.modelkit.kitfile:Kitfile.__init__": [("self", EMPTY), ("path", None), ("**", None)],
    "kitops.modelkit.kitfile:Kitfile.load": [("self", EMPTY), ("path", EMPTY)],
    "kitops.modelkit.kitfile:Kitfile.to_yaml": [("self", EMPTY), ("suppress_empty_values", True)],
    "kitops.modelkit.kitfile:Kitfile.print": [("self", EMPTY)],
    "kitops.modelkit.kitfile:Kitfile.save": [("self", EMPTY), ("path", "Kitfile"), ("print", True)],
    "kitops.modelkit.user:UserCredentials.__init__": [
        ("self", EMPTY),
        ("username", None),
        ("password", None),
        ("registry", None),
        ("namespace", None),
    ],
    "kitops.modelkit.reference:ModelKitReference.__init__": [("self", EMPTY), ("modelkit_tag", None)],
    # working_directory: the reference's default is os.getcwd() evaluated at import time (a later chdir went unseen);
    # ours is None, meaning the current directory when the manager is created.
    "kitops.modelkit.manager:ModelKitManager.__init__": [
        ("self", EMPTY),
        ("working_directory", None),
        ("user_credentials", None),
        ("modelkit_reference", None),
        ("modelkit_tag", None),
    ],
    "kitops.modelkit.manager:ModelKitManager.login": [("self", EMPTY)],
    "kitops.modelkit.manager:ModelKitManager.inspect_modelkit": [("self", EMPTY), ("remote", False)],
    "kitops.modelkit.manager:ModelKitManager.pull_and_unpack_modelkit": [
        ("self", EMPTY),
        ("load_kitfile", False),
        ("filters", None),
        ("with_login_and_logout", True),
    ],
    "kitops.modelkit.manager:ModelKitManager.pack_and_push_modelkit": [
        ("self", EMPTY),
        ("save_kitfile", False),
        ("with_login_and_logout", True),
    ],
    "kitops.modelkit.manager:ModelKitManager.remove_modelkit": [
        ("self", EMPTY),
        ("local", False),
        ("remote", False),
        ("with_login_and_logout", True),
    ],
}


def _check_signature(func: Any, expected: list[tuple[str, Any]]) -> None:
    """The reference's parameters come first, in order, with the same kinds and defaults; anything
    we add is keyword-only with a default, so every call that worked with the reference still works."""
    params = list(inspect.signature(func).parameters.values())
    reference_params = [p for p in params if p.kind in (POS, VAR_KW)]
    got = [("**", None) if p.kind is VAR_KW else (p.name, p.default) for p in reference_params]
    assert got == expected, func
    for p in params:
        if p.kind not in (POS, VAR_KW):
            assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not EMPTY, (func, p)


@pytest.mark.parametrize("name", sorted(KIT_FUNCTIONS))
def test_kit_function_signatures(name: str) -> None:
    from kitops.cli import kit

    _check_signature(getattr(kit, name), KIT_FUNCTIONS[name])


def test_kit_module_import_forms() -> None:
    import kitops.cli.kit as kit_a
    from kitops.cli import kit as kit_b

    assert kit_a is kit_b
    assert kit_a.LOG.name == "kitops.cli.kit"


@pytest.mark.parametrize("target", sorted(METHODS))
def test_class_signatures(target: str) -> None:
    module, _, path = target.partition(":")
    cls_name, method = path.split(".")
    cls = getattr(importlib.import_module(module), cls_name)
    _check_signature(getattr(cls, method), METHODS[target])


def test_every_reference_import_path() -> None:
    import kitops
    from kitops.modelkit import CodeEntry, DatasetEntry, DocsEntry, ModelSection, Package
    from kitops.modelkit._pydantic_kit import (
        BasePathModel,
        ModelPart,
        PromptEntry,
        PydanticKitfile,
    )
    from kitops.modelkit._pydantic_kit import CodeEntry as CodeEntry2
    from kitops.modelkit.kitfile import Kitfile
    from kitops.modelkit.manager import ModelKitManager
    from kitops.modelkit.reference import ModelKitReference
    from kitops.modelkit.user import UserCredentials
    from kitops.modelkit.utils import (
        IS_A_TTY,
        Color,
        clean_empty_items,
        get_or_create_directory,
        load_environment_variables,
        parse_modelkit_tag,
        validate_dict,
    )

    assert isinstance(kitops.__version__, str)
    assert CodeEntry is CodeEntry2
    assert issubclass(Kitfile, PydanticKitfile)
    for model in (CodeEntry, DatasetEntry, DocsEntry, ModelSection, PromptEntry, ModelPart):
        assert issubclass(model, BasePathModel)
    assert set(importlib.import_module("kitops.modelkit").__all__) >= {
        "Package",
        "CodeEntry",
        "DatasetEntry",
        "DocsEntry",
        "ModelSection",
        "Kitfile",
        "PromptEntry",
        "ModelPart",
    }
    assert isinstance(IS_A_TTY, bool)
    assert Color.GREEN.value.startswith("\033[")
    assert all(
        callable(f)
        for f in (
            clean_empty_items,
            get_or_create_directory,
            load_environment_variables,
            parse_modelkit_tag,
            validate_dict,
            ModelKitManager,
            ModelKitReference,
            UserCredentials,
            Package,
        )
    )


MODEL_FIELDS = {
    # model -> (field, default) in dump order; the reference's fields plus the kit fields it dropped
    "Package": [("name", ""), ("version", ""), ("description", ""), ("license", ""), ("authors", [])],
    "CodeEntry": [("path", EMPTY), ("description", ""), ("license", "")],
    "DatasetEntry": [
        ("path", EMPTY),
        ("name", ""),
        ("description", ""),
        ("license", ""),
        ("parameters", None),
    ],
    "DocsEntry": [("path", EMPTY), ("description", "")],
    "PromptEntry": [("path", EMPTY), ("description", "")],
    "ModelPart": [("path", EMPTY), ("name", ""), ("type", ""), ("license", "")],
    "ModelSection": [
        ("path", EMPTY),
        ("name", ""),
        ("framework", ""),
        ("format", ""),
        ("version", ""),
        ("description", ""),
        ("license", ""),
        ("parts", []),
        ("parameters", None),
    ],
}


@pytest.mark.parametrize("name", sorted(MODEL_FIELDS))
def test_pydantic_model_fields(name: str) -> None:
    from pydantic_core import PydanticUndefined

    from kitops.modelkit import _pydantic_kit

    fields = getattr(_pydantic_kit, name).model_fields
    got = [(n, EMPTY if f.default is PydanticUndefined else f.default) for n, f in fields.items()]
    assert got == MODEL_FIELDS[name]


def test_kitfile_storage_fields_and_dump_order() -> None:
    from kitops.modelkit.kitfile import Kitfile

    aliases = {n: f.alias for n, f in Kitfile.model_fields.items()}
    assert aliases == {
        "prop_manifestVersion": "manifestVersion",
        "prop_package": "package",
        "prop_code": "code",
        "prop_datasets": "datasets",
        "prop_docs": "docs",
        "prop_prompts": "prompts",
        "prop_model": "model",
    }
    assert all(f.exclude for f in Kitfile.model_fields.values())
    assert list(Kitfile().model_dump()) == [
        "manifestVersion",
        "package",
        "code",
        "datasets",
        "docs",
        "prompts",
        "model",
    ]


def test_top_level_api_is_lazy_and_complete() -> None:
    code = (
        "import sys, kitops\n"
        "assert 'kitops.api' not in sys.modules and 'httpx' not in sys.modules and 'pydantic' not in sys.modules\n"
        "assert kitops.pack is __import__('kitops.api').api.pack\n"
        "from kitops import *\n"
        "import kitops.modelkit.pack\n"
        "assert 'pydantic' not in sys.modules, 'kit pack must not import pydantic'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    import kitops

    for name in kitops.__all__:
        assert getattr(kitops, name) is not None
    # the literal __all__ (for linters and IDEs) names exactly the lazily exported names
    assert sorted(kitops.__all__) == sorted([*kitops._LAZY, "__version__"])
    with pytest.raises(AttributeError):
        _ = kitops.no_such_name  # type: ignore[attr-defined]


def test_import_kitops_loads_nothing_heavy() -> None:
    """``import kitops`` must stay cheap (measured ~20 ms, budget 150 ms; see the issue note).
    Asserted by what it loads, not by a clock: none of the libraries that cost the time."""
    heavy = (
        "httpx",
        "httpcore",
        "click",
        "rich",
        "yaml",
        "pydantic",
        "zstandard",
        "isal",
        "mlflow",
        "cryptography",
    )
    code = (
        "import sys; import kitops; "
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})); "
        "assert not loaded, loaded; "
        "assert sorted(m for m in sys.modules if m.startswith('kitops')) == ['kitops', 'kitops._lazy', 'kitops._version']"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_kitops_plants_nothing_in_other_libraries() -> None:
    """No stand-in modules and no changed constants: after kitops' registry client is imported,
    httpx's own modules are the real ones and httpcore reads with its own default size."""
    code = (
        "import sys; import httpcore._sync.http11 as h11c; before = h11c.HTTP11Connection.READ_NUM_BYTES\n"
        "import kitops.registry.remote, kitops.registry.repository, httpx\n"
        "main = sys.modules.get('httpx._main')\n"
        "assert main is None or (main.__file__ or '').endswith('_main.py'), main\n"
        "assert h11c.HTTP11Connection.READ_NUM_BYTES == before"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_module_uses_a_private_name_of_the_http_libraries() -> None:
    """kitops reaches httpx, httpcore and h11 through their public API only: no import of a
    private module or name, no attribute starting with ``_`` read from them, no transport
    internals such as the ``network_stream`` extension (the fast path is our own transport)."""
    import ast
    from pathlib import Path

    import kitops

    libraries = {"httpx", "httpcore", "h11"}
    found = []
    for path in Path(kitops.__file__).parent.rglob("*.py"):
        text = path.read_text()
        if "network_stream" in text:
            found.append(f"{path.name}: network_stream")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in libraries:
                if any(part.startswith("_") for part in node.module.split(".")) or any(
                    a.name.startswith("_") for a in node.names
                ):
                    found.append(f"{path.name}:{node.lineno}: from {node.module} import ...")
            elif isinstance(node, ast.Import):
                found += [
                    f"{path.name}:{node.lineno}: import {a.name}"
                    for a in node.names
                    if a.name.split(".")[0] in libraries and "._" in a.name
                ]
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and node.value.id in libraries
            ):
                found.append(f"{path.name}:{node.lineno}: {node.value.id}.{node.attr}")
    assert not found, found

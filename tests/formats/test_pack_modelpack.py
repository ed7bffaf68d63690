"""``kit pack --use-model-pack``: the manifest, the config blob (checked against the ModelPack
JSON schema), the Kitfile annotation, DiffIDs, reproducibility, parameter mapping, the kinds
of model parts, and what is refused."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kitops import api
from kitops.errors import UsageError
from kitops.kitfile import fields as kf
from kitops.kitfile.config import kitfile_from_config
from kitops.kitfile.load import load_kitfile_text
from kitops.kitfile.model import Kitfile, LayerInfo
from kitops.modelkit.compression import open_decompressed
from kitops.modelkit.pack import PackResult
from kitops.oci import mediatypes as mt
from kitops.store.layout import LocalStore
from tests.helpers import kit, tree_files, write_tree

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_CANDIDATES = (
    ROOT.parent / "shared" / "spec" / "modelpack-schema" / "config-schema.json",
    Path("/work/shared/spec/modelpack-schema/config-schema.json"),
)
EPOCH = "1700000000"
EPOCH_TEXT = "2023-11-14T22:13:20Z"

KITFILE = """\
manifestVersion: 1.0.0
package:
  name: tiny-llm
  version: 2.1.0
  description: A tiny language model
  license: Apache-2.0
  authors: [Jane Doe, ml-team@example.com]
model:
  name: tiny
  path: weights
  format: safetensors
  license: MIT
  parts:
    - name: tokenizer
      path: tokenizer.json
      license: MIT
    - name: notes
      path: NOTES.md
code:
  - path: src
    license: BSD-3-Clause
datasets:
  - name: eval
    path: data/eval.csv
    license: CC-BY-4.0
docs:
  - path: README.md
prompts:
  - path: prompts/system.txt
"""


def project(root: Path, kitfile: str = KITFILE) -> Path:
    return write_tree(
        root,
        {
            "Kitfile": kitfile,
            "weights/model-00001-of-00002.safetensors": b"\x01" * 3000,
            "weights/model-00002-of-00002.safetensors": b"\x02" * 2000,
            "weights/config.json": '{"hidden_size": 64}\n',
            "tokenizer.json": '{"version": "1.0"}\n',
            "NOTES.md": "notes\n",
            "src/serve.py": "print('serve')\n",
            "data/eval.csv": "q,a\n1,2\n",
            "README.md": "# Tiny\n",
            "prompts/system.txt": "You are tiny.\n",
        },
    )


def store_of(home: Path) -> LocalStore:
    return LocalStore(home / "storage")


def blob(home: Path, digest: str) -> bytes:
    return store_of(home).blob_path(digest).read_bytes()


def config_of(home: Path, result: PackResult) -> dict[str, Any]:
    data = json.loads(blob(home, result.manifest.config.digest))
    assert isinstance(data, dict)
    return data


def schema_validator() -> Any:
    """Draft 2020-12 with format checking; date-time is checked whatever optional packages exist."""
    jsonschema = pytest.importorskip("jsonschema")
    path = next((p for p in SCHEMA_CANDIDATES if p.is_file()), None)
    if path is None:
        pytest.skip("the ModelPack schema (shared/spec/modelpack-schema) is not on this machine")
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        import datetime as dt
        import re

        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
            raise ValueError(f"{value!r} is not an RFC 3339 date-time")
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return True

    schema = json.loads(path.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=checker)
    # the checker really checks: a config with a bad time must fail, or the test proves nothing
    bad = {
        "descriptor": {"createdAt": "yesterday"},
        "config": {},
        "modelfs": {"type": "layers", "diffIds": ["x"]},
    }
    assert list(validator.iter_errors(bad))
    return validator


# ---------------------------------------------------------------------------------------------
# Manifest, config, Kitfile annotation


def test_manifest_config_and_kitfile_annotation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    result = api.pack(ctx, tag="tiny:mp", home=home, model_format="modelpack")
    m = result.manifest
    assert m.media_type == mt.OCI_MANIFEST
    assert m.artifact_type == "application/vnd.cncf.model.manifest.v1+json"
    assert m.config.media_type == "application/vnd.cncf.model.config.v1+json"
    prefix = "application/vnd.cncf.model."
    assert [(d.media_type.removeprefix(prefix), dict(d.annotations or {})) for d in m.layers] == [
        ("weight.v1.tar", {mt.ANNOTATION_FILEPATH: "weights"}),
        (
            "weight.config.v1.tar",
            {mt.ANNOTATION_FILEPATH: "tokenizer.json", mt.ANNOTATION_MEDIATYPE_UNTESTED: "true"},
        ),
        ("doc.v1.tar", {mt.ANNOTATION_FILEPATH: "NOTES.md", mt.ANNOTATION_MEDIATYPE_UNTESTED: "true"}),
        ("code.v1.tar", {mt.ANNOTATION_FILEPATH: "src"}),
        ("dataset.v1.tar", {mt.ANNOTATION_FILEPATH: "data/eval.csv"}),
        ("doc.v1.tar", {mt.ANNOTATION_FILEPATH: "README.md"}),
        (
            "code.v1.tar",
            {mt.ANNOTATION_FILEPATH: "prompts/system.txt", mt.ANNOTATION_LAYER_SUBTYPE: "prompt"},
        ),
    ]
    ann = dict(m.annotations or {})
    assert set(ann) == {mt.ANNOTATION_CLI_VERSION, mt.ANNOTATION_CREATED, mt.ANNOTATION_KITFILE}
    assert ann[mt.ANNOTATION_CREATED] == EPOCH_TEXT
    # the Kitfile comes back exactly, layer digests included, from the annotation alone
    assert ann[mt.ANNOTATION_KITFILE] == result.kitfile.to_config_bytes().decode()
    back = kitfile_from_config(ann[mt.ANNOTATION_KITFILE].encode())
    assert back == result.kitfile
    original = api.load_kitfile(ctx / "Kitfile")
    assert back.to_config_dict(with_layers=False) == original.to_config_dict(with_layers=False)
    assert back.model is not None and back.model.layer == LayerInfo(m.layers[0].digest, m.layers[0].digest)
    assert [p.layer.digest for p in back.model.parts if p.layer] == [m.layers[1].digest, m.layers[2].digest]

    config = config_of(home, result)
    assert json.dumps(config, separators=(",", ":")).encode() == blob(home, m.config.digest)  # compact
    assert list(config) == ["descriptor", "modelfs", "config"]  # Go's struct order
    assert list(config["descriptor"]) == [
        "createdAt",
        "authors",
        "name",
        "version",
        "licenses",
        "title",
        "description",
    ]
    assert config == {
        "descriptor": {
            "createdAt": EPOCH_TEXT,
            "authors": ["Jane Doe", "ml-team@example.com"],
            "name": "tiny-llm",
            "version": "2.1.0",
            "licenses": ["Apache-2.0", "BSD-3-Clause", "CC-BY-4.0", "MIT"],
            "title": "tiny-llm",
            "description": "A tiny language model",
        },
        "modelfs": {"type": "layers", "diffIds": [d.digest for d in m.layers]},
        "config": {"format": "safetensors"},
    }
    schema_validator().validate(config)


@pytest.mark.parametrize(
    ("layer_format", "compression"),
    [("tar", "none"), ("tar", "gzip"), ("tar", "zstd"), ("native", "none"), ("native", "gzip-fastest")],
)
def test_config_validates_against_the_schema(tmp_path: Path, layer_format: str, compression: str) -> None:
    validator = schema_validator()
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    result = api.pack(
        ctx,
        home=home,
        model_format="modelpack",
        layer_format=layer_format,
        compression=compression,
        modelpack_config={"config.capabilities.knowledgeCutoff": "2024-06-01", "descriptor.family": "tiny"},
    )
    config = config_of(home, result)
    validator.validate(config)
    assert len(config["modelfs"]["diffIds"]) == len(result.manifest.layers)
    assert config["descriptor"]["createdAt"] == result.manifest.annotations[mt.ANNOTATION_CREATED]  # type: ignore[index]


def test_diff_ids_of_compressed_layers_are_the_uncompressed_tar_digests(tmp_path: Path) -> None:
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    plain = api.pack(ctx, tag="tiny:none", home=home, model_format="modelpack")
    plain_ids = config_of(home, plain)["modelfs"]["diffIds"]
    assert plain_ids == [d.digest for d in plain.manifest.layers]  # uncompressed: DiffID == digest
    for compression, suffix in (("gzip", "+gzip"), ("zstd", "+zstd")):
        packed = api.pack(
            ctx, tag=f"tiny:{compression}", home=home, model_format="modelpack", compression=compression
        )
        diff_ids = config_of(home, packed)["modelfs"]["diffIds"]
        assert all(d.media_type.endswith(".tar" + suffix) for d in packed.manifest.layers)
        assert all(d.digest != i for d, i in zip(packed.manifest.layers, diff_ids, strict=True))
        for desc, diff_id in zip(packed.manifest.layers, diff_ids, strict=True):
            with open(store_of(home).blob_path(desc.digest), "rb") as raw:
                tar = open_decompressed(raw, compression.removesuffix("-fastest")).read()
            assert "sha256:" + hashlib.sha256(tar).hexdigest() == diff_id
        assert diff_ids == plain_ids  # the same tars inside


def test_source_date_epoch_gives_the_same_digests_in_two_homes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    ctx = project(tmp_path / "ctx")
    first = api.pack(ctx, home=tmp_path / "h1", model_format="modelpack", layer_format="native")
    second = api.pack(ctx, home=tmp_path / "h2", model_format="modelpack", layer_format="native")
    assert first.descriptor == second.descriptor
    assert first.manifest.config.digest == second.manifest.config.digest
    assert config_of(tmp_path / "h1", first)["descriptor"]["createdAt"] == EPOCH_TEXT
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    third = api.pack(ctx, home=tmp_path / "h3", model_format="modelpack", layer_format="native")
    assert third.descriptor.digest != first.descriptor.digest  # the time is in it, so it is honoured


def test_repacking_unchanged_content_returns_the_same_modelpack(tmp_path: Path) -> None:
    """Without SOURCE_DATE_EPOCH the config's createdAt is the pack time; an unchanged re-pack
    still returns the ModelPack already stored, as the Kit format does, leaving no orphan."""
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    first = api.pack(ctx, tag="tiny:a", home=home, model_format="modelpack")
    again = api.pack(ctx, tag="tiny:b", home=home, model_format="modelpack")
    assert again.descriptor == first.descriptor
    (ctx / "README.md").write_text("# Tiny, edited\n")
    changed = api.pack(ctx, tag="tiny:c", home=home, model_format="modelpack")
    assert changed.descriptor != first.descriptor


# ---------------------------------------------------------------------------------------------
# model.parameters and explicit values


PARAMS_KITFILE = """\
manifestVersion: 1.0.0
package: {name: p, authors: [A]}
model:
  path: model.gguf
  parameters:
    architecture: transformer
    format: gguf
    param_size: 7B
    precision: bfloat16
    quantization: 4
    family: llama3
    vendor: Example Labs
    doc_url: https://example.com/docs
    sourceURL: https://example.com/src
    revision: abc123
    datasets_url: https://example.com/data
    learning_rate: 0.01
    capabilities:
      input_types: [text, image]
      outputTypes: [text]
      knowledge_cutoff: 2024-06-01
      reasoning: true
      tool_usage: "yes"
      languages: [en, fr]
      embedding: true
"""


def test_model_parameters_map_into_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    ctx = write_tree(tmp_path / "ctx", {"Kitfile": PARAMS_KITFILE, "model.gguf": b"GGUF" * 100})
    home = tmp_path / "home"
    result = api.pack(ctx, home=home, model_format="modelpack")
    config = config_of(home, result)
    assert config["descriptor"] == {
        "createdAt": EPOCH_TEXT,
        "authors": ["A"],
        "family": "llama3",
        "name": "p",
        "docURL": "https://example.com/docs",
        "sourceURL": "https://example.com/src",
        "datasetsURL": ["https://example.com/data"],
        "revision": "abc123",
        "vendor": "Example Labs",
        "title": "p",
    }
    assert list(config["descriptor"]) == [
        "createdAt", "authors", "family", "name", "docURL", "sourceURL", "datasetsURL", "revision", "vendor", "title"
    ]  # fmt: skip
    assert config["config"] == {
        "architecture": "transformer",
        "format": "gguf",
        "paramSize": "7B",
        "precision": "bfloat16",
        "capabilities": {
            "inputTypes": ["text", "image"],
            "outputTypes": ["text"],
            "knowledgeCutoff": "2024-06-01T00:00:00Z",
            "reasoning": True,
            "languages": ["en", "fr"],
        },
    }
    # wrong shapes are left out with a warning naming them; unknown keys (embedding) are ignored
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert (
        "quantization is not a string" in warned and "capabilities.tool_usage is not true or false" in warned
    )
    schema_validator().validate(config)

    # explicit values win over parameters; an empty one removes the key; the Kitfile's own format wins
    over = api.pack(
        ctx,
        home=home,
        model_format="modelpack",
        modelpack_config={
            "config.paramSize": "8B",
            "descriptor.family": "",
            "config.capabilities.reasoning": "false",
            "config.capabilities.inputTypes": "text, audio",
            "descriptor.licenses": "Apache-2.0,MIT",
        },
    )
    cfg = config_of(home, over)
    assert cfg["config"]["paramSize"] == "8B" and "family" not in cfg["descriptor"]
    assert cfg["config"]["capabilities"]["reasoning"] is False
    assert cfg["config"]["capabilities"]["inputTypes"] == ["text", "audio"]
    assert cfg["descriptor"]["licenses"] == ["Apache-2.0", "MIT"]
    schema_validator().validate(cfg)


def test_model_format_field_wins_over_parameters(tmp_path: Path) -> None:
    text = PARAMS_KITFILE.replace("  path: model.gguf\n", "  path: model.gguf\n  format: GGUF-v3\n")
    ctx = write_tree(tmp_path / "ctx", {"Kitfile": text, "model.gguf": b"GGUF"})
    result = api.pack(ctx, home=tmp_path / "home", model_format="modelpack")
    assert config_of(tmp_path / "home", result)["config"]["format"] == "GGUF-v3"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config.flavour": "x"}, "unknown ModelPack config key 'config.flavour'"),
        (
            {"descriptor.createdAt": "2020-01-01T00:00:00Z"},
            "unknown ModelPack config key 'descriptor.createdAt'",
        ),
        ({"config.capabilities.reasoning": "maybe"}, "is not true or false"),
        ({"config.capabilities.languages": "english"}, "two-letter ISO 639-1 codes"),
        ({"config.capabilities.knowledgeCutoff": "June 2024"}, "RFC 3339 date-time"),
        ({"config.capabilities.knowledgeCutoff": "2024-13-40"}, "RFC 3339 date-time"),
    ],
)
def test_invalid_explicit_values_are_refused_before_packing(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    with pytest.raises(UsageError, match=message):
        api.pack(ctx, home=home, model_format="modelpack", modelpack_config=values)
    assert not (home / "storage" / "blobs").exists()  # refused before a layer was written


# ---------------------------------------------------------------------------------------------
# Model parts: kinds guessed from names


def test_model_parts_are_classified_by_name(tmp_path: Path) -> None:
    parts = {
        "adapter.safetensors": "weight",
        "tokenizer.json": "weight.config",
        "tokenizer.model": "weight.config",
        "chat_template.jinja": "weight.config",
        "vocab.txt": "weight.config",
        "merges.txt": "weight.config",
        "generation_config.json": "weight.config",
        "LICENSE": "doc",
        "README.txt": "doc",
        "notes.md": "doc",
        "hyper.xyz": "weight.config",  # unknown: what the Go kit calls every part
        "ckpt/": "weight",  # a directory of weights only
        "mixed/": "weight.config",  # weights beside a config: weight configuration
    }
    files: dict[str, str | bytes] = {name: name for name in parts if not name.endswith("/")}
    files.update({"ckpt/a.bin": b"a", "ckpt/b.pt": b"b", "mixed/w.bin": b"w", "mixed/config.json": "{}"})
    files["model.onnx"] = b"onnx"
    part_lines = "".join(f"    - path: {name.rstrip('/')}\n" for name in parts)
    files["Kitfile"] = f"manifestVersion: 1.0.0\nmodel:\n  path: model.onnx\n  parts:\n{part_lines}"
    ctx = write_tree(tmp_path / "ctx", files)
    result = api.pack(ctx, home=tmp_path / "home", model_format="modelpack")
    layers = result.manifest.layers
    assert layers[0].media_type == "application/vnd.cncf.model.weight.v1.tar"
    assert mt.ANNOTATION_MEDIATYPE_UNTESTED not in (layers[0].annotations or {})  # the model is no guess
    got = {
        (d.annotations or {})[mt.ANNOTATION_FILEPATH]: d.media_type.removeprefix(
            "application/vnd.cncf.model."
        )
        for d in layers[1:]
    }
    assert got == {name.rstrip("/"): f"{kind}.v1.tar" for name, kind in parts.items()}
    assert all((d.annotations or {}).get(mt.ANNOTATION_MEDIATYPE_UNTESTED) == "true" for d in layers[1:])


# ---------------------------------------------------------------------------------------------
# Refusals


def test_an_empty_modelpack_is_refused(tmp_path: Path) -> None:
    ctx = write_tree(tmp_path / "ctx", {"Kitfile": "manifestVersion: 1.0.0\npackage: {name: nothing}\n"})
    home = tmp_path / "home"
    with pytest.raises(UsageError, match="a ModelPack needs at least one layer") as info:
        api.pack(ctx, tag="empty:v1", home=home, model_format="modelpack")
    assert info.value.hint and "model, code, dataset, docs or prompt" in info.value.hint
    assert api.list_modelkits(home=home) == []
    # the Kit format allows it (as the Go kit does)
    assert api.pack(ctx, tag="empty:v1", home=home).manifest.layers == ()


@dataclass
class McpServer:
    name: str = field(default="", metadata=kf.text())
    path: str = field(default="", metadata=kf.text())
    layer: LayerInfo | None = None


@dataclass
class McpKitfile(Kitfile):
    """A Kitfile that knows the Go kit's ``mcpServers`` section."""

    mcp_servers: list[McpServer] = field(default_factory=list, metadata=kf.entries(McpServer, "mcpServers"))


def test_mcp_servers_are_refused_in_modelpack(tmp_path: Path) -> None:
    text = (
        "manifestVersion: 1.0.0\nmodel: {path: m.bin}\nmcpServers:\n  - name: tools\n    path: tools.mcpb\n"
    )
    ctx = write_tree(tmp_path / "ctx", {"m.bin": b"m", "tools.mcpb": b"PK"})
    kitfile = load_kitfile_text(text, into=McpKitfile)
    home = tmp_path / "home"
    with pytest.raises(UsageError, match=r"^mcpServers are not supported when packing in modelpack format$"):
        api.pack(ctx, kitfile=kitfile, home=home, model_format="modelpack")
    assert not (home / "storage" / "blobs").exists()
    without = load_kitfile_text(text.split("mcpServers")[0], into=McpKitfile)
    assert api.pack(ctx, kitfile=without, home=home, model_format="modelpack").manifest.layers


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"model_format": "modelpack", "layer_format": "raw", "compression": "gzip"},
            "compression for raw layers",
        ),
        ({"layer_format": "native"}, "native is for ModelPack only"),
        ({"model_format": "modelpack", "legacy_manifest": True}, "v1.7 manifest form"),
        ({"modelpack_config": {"config.paramSize": "1B"}}, "need --use-model-pack"),
        ({"model_format": "onnx"}, "invalid model format"),
        ({"layer_format": "zip"}, "invalid layer format"),
        (
            {"model_format": "modelpack", "annotations": {mt.ANNOTATION_KITFILE: "{}"}},
            "written by kit itself",
        ),
    ],
)
def test_combinations_that_cannot_be_written(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    ctx = project(tmp_path / "ctx")
    with pytest.raises(UsageError, match=message):
        api.pack(ctx, home=tmp_path / "home", **kwargs)


# ---------------------------------------------------------------------------------------------
# The command line


def test_cli_pack_use_model_pack(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    ctx = project(tmp_path / "ctx")
    res = kit(
        home,
        "pack",
        str(ctx),
        "-t",
        "tiny:cli",
        "--use-model-pack",
        "--layer-format",
        "native",
        "--modelpack-config",
        "config.paramSize=5K",
        "--modelpack-config",
        "descriptor.vendor=Tiny Co",
    )
    assert res.exit_code == 0, res.output
    digest = res.stdout.removeprefix("Model saved: ").strip()
    same = api.pack(
        ctx,
        home=tmp_path / "other",
        model_format="modelpack",
        layer_format="native",
        modelpack_config={"config.paramSize": "5K", "descriptor.vendor": "Tiny Co"},
    )
    assert same.descriptor.digest == digest  # the CLI is the API
    bad = kit(home, "pack", str(ctx), "--use-model-pack", "--modelpack-config", "paramSize")
    assert bad.exit_code == 2 and "is not KEY=VALUE" in bad.stderr
    raw = kit(home, "pack", str(ctx), "--use-model-pack", "--layer-format", "raw")
    assert raw.exit_code == 2 and "file weights is not a regular file" in raw.stderr
    helped = kit(home, "pack", "--help")
    assert "--use-model-pack" in helped.stdout and "[tar|raw|native]" in helped.stdout


# ---------------------------------------------------------------------------------------------
# Round trips through `kit unpack` (they need the ModelPack reader)


@pytest.mark.parametrize("layer_format", ["tar", "native"])
def test_kit_and_modelpack_unpack_to_the_same_files(tmp_path: Path, layer_format: str) -> None:
    ctx = project(tmp_path / "ctx")
    home = tmp_path / "home"
    api.pack(ctx, tag="tiny:kit", home=home)
    api.pack(ctx, tag="tiny:mp", home=home, model_format="modelpack", layer_format=layer_format)
    as_kit, as_mp = tmp_path / "kit", tmp_path / "mp"
    assert kit(home, "unpack", "tiny:kit", "-d", str(as_kit)).exit_code == 0
    res = kit(home, "unpack", "tiny:mp", "-d", str(as_mp))
    assert res.exit_code == 0, res.output
    expected = {k: v for k, v in tree_files(ctx).items() if k != "Kitfile"}
    for out in (as_kit, as_mp):
        files = tree_files(out)
        assert {k: v for k, v in files.items() if k != "Kitfile"} == expected
    assert (as_mp / "Kitfile").read_text() == (as_kit / "Kitfile").read_text()
    filtered = tmp_path / "model-only"
    assert kit(home, "unpack", "tiny:mp", "-d", str(filtered), "--filter", "model").exit_code == 0
    assert sorted(tree_files(filtered)) == sorted(
        [
            "weights/config.json",
            "weights/model-00001-of-00002.safetensors",
            "weights/model-00002-of-00002.safetensors",
            "tokenizer.json",
            "NOTES.md",
        ]
    )

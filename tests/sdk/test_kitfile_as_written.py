"""The PyKitOps Kitfile keeps scalars as written, for every declared field, whatever its key.

``read_kitfile_data`` pairs the file's typed YAML with the strict loader's result: a field whose
Kitfile key differs from its attribute (``manifestVersion`` / ``manifest_version``) must be found
by its declaration, not by a rule about names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kitops.compat.pykitops.kitfile import _as_written, read_kitfile_data
from kitops.kitfile import fields as kf
from kitops.kitfile.load import load_kitfile_text
from kitops.kitfile.model import Kitfile, Model, ModelPart
from kitops.kitfile.yamlio import load_yaml

# Stand-ins for a later edit of the model: new fields whose keys are not their attribute names,
# at the top level, in a section and in a list of sections.


@dataclass
class WidePart(ModelPart):
    bits_per_weight: str = field(default="", metadata=kf.text("bitsPerWeight"))


@dataclass
class WideModel(Model):
    parts: list[WidePart] = field(default_factory=list, metadata=kf.entries(WidePart))  # type: ignore[assignment]
    context_length: str = field(default="", metadata=kf.text("contextLength"))


@dataclass
class WideKitfile(Kitfile):
    model: WideModel | None = field(default=None, metadata=kf.section(WideModel, sdk_after="prompts"))
    artifact_type: str = field(default="", metadata=kf.text("artifactType"))


WIDE_YAML = """\
manifestVersion: 1.10
model:
  path: m.gguf
  contextLength: 0x10
  parts:
    - path: p.bin
      bitsPerWeight: 4.50
  parameters: {temperature: 0.70}
artifactType: 2e3
"""


def test_every_field_is_found_by_its_declaration() -> None:
    typed, _lines = load_yaml(WIDE_YAML)
    data = _as_written(typed, load_kitfile_text(WIDE_YAML, into=WideKitfile), WideKitfile)
    assert data == {
        "manifestVersion": "1.10",
        "model": {
            "path": "m.gguf",
            "contextLength": "0x10",
            "parts": [{"path": "p.bin", "bitsPerWeight": "4.50"}],
            "parameters": {"temperature": 0.7},
        },  # parameters keep their YAML types
        "artifactType": "2e3",
    }


def test_a_kitfile_file_keeps_its_scalars_as_written(tmp_path: Path) -> None:
    path = tmp_path / "Kitfile"
    path.write_text(
        "manifestVersion: 1.10\npackage:\n  name: 123\n  authors: [1.0, null]\n"
        "model:\n  path: m\n  version: 2.50\ndatasets:\n  - path: d\n    parameters: 0x10\n"
    )
    assert read_kitfile_data(path) == {
        "manifestVersion": "1.10",
        "package": {"name": "123", "authors": ["1.0", ""]},
        "model": {"path": "m", "version": "2.50"},
        "datasets": [{"path": "d", "parameters": 16}],
    }

"""Compile the Kubeflow Pipelines components into the YAML shipped in the package.

    .venv/bin/python scripts/compile_kubeflow.py [OUT_DIR]

writes ``push-modelkit.yaml``, ``unpack-modelkit.yaml`` (the lightweight Python components) and
``push-modelkit-container.yaml``, ``unpack-modelkit-container.yaml`` (the container components)
to OUT_DIR, by default ``src/kitops/integrations/kubeflow/yaml``. Run it after changing
``kitops/integrations/kubeflow/components.py`` or the package version (the image tag is in the
YAML); tests/integrations/test_kubeflow_pipeline.py fails while the shipped files are stale.
The YAML names the kfp version that compiled it, so the dev extra pins kfp.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "src" / "kitops" / "integrations" / "kubeflow" / "yaml"


def compile_components(out_dir: Path) -> list[Path]:
    """Compile every component into ``out_dir`` (created if needed); returns the files written."""
    from kfp import compiler

    from kitops.integrations.kubeflow import components as c

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, component in (
        ("push-modelkit", c.push_modelkit),
        ("unpack-modelkit", c.unpack_modelkit),
        ("push-modelkit-container", c.push_modelkit_container),
        ("unpack-modelkit-container", c.unpack_modelkit_container),
    ):
        path = out_dir / f"{name}.yaml"
        compiler.Compiler().compile(component, str(path))
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    for path in compile_components(out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env bash
# The demo: packs examples/iris into a ModelKit, lists, inspects and unpacks it
# (sets itself up first). Uses a throw-away $KITOPS_HOME under demo-out/.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"

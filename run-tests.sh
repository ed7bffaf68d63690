#!/usr/bin/env bash
# Runs the code checks and the whole test suite (sets itself up first). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup.sh
bash scripts/setup-test-extras.sh
# The code's own checks first: lint, formatting, strict types and the import layers (.importlinter).
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest --cov=kitops --cov-report=term:skip-covered "$@"

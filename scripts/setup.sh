#!/usr/bin/env bash
# Shared set-up for run-demo.sh and run-tests.sh: a venv with kitops and its test
# dependencies, and the real OCI registry (Debian's docker-registry) when missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "kitops needs Python >= 3.10 (found $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.kitops-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch "$stamp"
fi
# The real OCI registry the demo and the tests use, htpasswd for its Basic-auth variant, openssl for CA hashing,
# skopeo for the tests that check kit save/load archives against standard OCI tooling.
missing=""
[ -x /usr/bin/docker-registry ] || command -v docker-registry >/dev/null 2>&1 || missing="$missing docker-registry"
command -v skopeo >/dev/null 2>&1 || missing="$missing skopeo"
command -v htpasswd >/dev/null 2>&1 || missing="$missing apache2-utils"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
# kit import --tool git (tests/integrations/test_hf_import.py, test_git_import.py): git and git-lfs
command -v git >/dev/null 2>&1 || missing="$missing git"
git lfs version >/dev/null 2>&1 || missing="$missing git-lfs"
# shellcheck source=scripts/apt-missing.sh
source "$root/scripts/apt-missing.sh"
install_missing "$missing" "the registry tests and the demo's push/pull need them"

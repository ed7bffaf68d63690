#!/usr/bin/env bash
# What only the test suite needs beyond scripts/setup.sh (run-tests.sh calls both; the demo does
# not wait for any of this): kit dev's model server and a browser for its chat page.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# chromium loads kit dev's chat page headless; cmake and g++ build llama-cpp-python (below).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
# kit image build's tests unpack the images they build with umoci and run busybox (static: the
# test image holds no libc) inside them with chroot. podman is not used: it cannot run containers
# in a sandbox that refuses setrlimit, and the chroot run proves the same.
command -v umoci >/dev/null 2>&1 || missing="$missing umoci"
dpkg -s busybox-static >/dev/null 2>&1 || missing="$missing busybox-static"
# shellcheck source=scripts/apt-missing.sh
source "$root/scripts/apt-missing.sh"
install_missing "$missing" "the kit dev and kit image tests need them"
# kit dev's model server (the devserver extra), which its tests run: llama-cpp-python is a source
# package that compiles llama.cpp: 7.5 minutes on 2 cores (measured). pip keeps the built wheel in
# its cache (~/.cache/pip), which survives only on this machine: later set-ups here reuse it,
# a new machine builds it again. The version is pinned so that the cached wheel keeps matching.
# GGML_NATIVE=OFF: a wheel for any x86-64 CPU, not only the one that built it; LLAVA_BUILD=OFF:
# no multimodal library (kit dev serves text models). KITOPS_NO_DEVSERVER=1 skips it; the tests
# that need it then skip, or fail under CI=true.
if [ "${KITOPS_NO_DEVSERVER:-}" != 1 ] && ! .venv/bin/python -c 'import importlib.util as u, sys
sys.exit(0 if all(u.find_spec(m) for m in ("llama_cpp", "uvicorn", "sse_starlette")) else 1)'; then
  echo "building llama-cpp-python for kit dev (once per machine; pip caches the wheel)..." >&2
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    .venv/bin/python -m pip install --quiet 'llama-cpp-python[server]==0.3.36'
fi

# Sourced by scripts/setup.sh and scripts/setup-test-extras.sh: install_missing "PKG..." "WHO NEEDS THEM"
# installs the Debian packages named (nothing when the list is empty), or warns where apt is absent.
install_missing() {
  local missing="$1" needed_by="$2"
  [ -n "$missing" ] || return 0
  if command -v apt-get >/dev/null 2>&1; then
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
  else
    echo "warning:$missing not installed; $needed_by" >&2
  fi
}

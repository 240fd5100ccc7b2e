# Shared by scripts/test and scripts/demo: a project virtualenv with the package and its extras.
ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  local stamp=.venv/.installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    touch "$stamp"
  fi
}

# Debian's chromium for the browser test (Playwright's own browser download cannot work offline).
ensure_chromium() {
  if [ -x /usr/bin/chromium ] || [ "${SKIP_CHROMIUM_INSTALL:-}" = 1 ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's chromium for the browser test"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
}

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

# Debian packages the tests drive for real, installed as root when missing (one apt-get update):
# chromium for the browser tests (Playwright's own browser download cannot work offline),
# prometheus (the server and promtool) for the metrics test, and npm, which fetches mermaid from
# its registry for the docs' diagrams test (the site loads it from a CDN the tests cannot reach).
ensure_test_packages() {
  local missing=()
  if [ ! -x /usr/bin/chromium ] && [ "${SKIP_CHROMIUM_INSTALL:-}" != 1 ]; then
    missing+=(chromium)
  fi
  if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    missing+=(prometheus)
  fi
  if ! command -v npm >/dev/null; then
    missing+=(npm)
  fi
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's ${missing[*]} for the tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

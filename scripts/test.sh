#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and the tests.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qiE 'wqy|noto sans cjk' || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "note: ${need_apt[*]} missing and cannot be installed here; browser tests will skip" >&2
  fi
fi

python3 -m pip install -q -e '.[test]'

if command -v npm >/dev/null 2>&1 && [ ! -d tests/js/node_modules/mathjax-full ] && [ -f tests/js/package.json ]; then
  (cd tests/js && npm install --no-audit --no-fund --silent) || echo "note: mathjax-full could not be installed; formula typesetting tests will skip" >&2
fi

python3 -m ruff check .
python3 -m mypy
python3 -m pytest "$@"

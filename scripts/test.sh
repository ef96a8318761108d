#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and the tests.
#
#   bash scripts/test.sh [pytest args]           pinned: exact versions and hashes from
#                                                requirements/test.txt, in .venv-test/
#   bash scripts/test.sh --latest [pytest args]  drift check: the newest releases that
#                                                pyproject.toml allows, in .venv-latest/
#
# Debian's chromium and a CJK font come from apt-get when this runs as root (elsewhere the
# browser tests skip with a reason); MathJax comes from npm (tests/js/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=pinned
if [ "${1:-}" = "--latest" ]; then mode=latest; shift; fi

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

venv=.venv-test
[ "$mode" = latest ] && venv=.venv-latest
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$PWD/$venv/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ "$mode" = pinned ]; then
  # Every package at the exact version and hash in the lock; bagu2anki itself from this tree.
  "$py" -m pip install -q --require-hashes -r requirements/test.txt
  "$py" -m pip install -q --no-deps --no-build-isolation -e .
else
  "$py" -m pip install -q --upgrade pip setuptools
  "$py" -m pip install -q --upgrade --upgrade-strategy eager -e '.[test]'
  "$py" -m pip list --format=freeze > "$venv/installed.txt"
  echo "drift check: installed releases listed in $venv/installed.txt" >&2
fi

if command -v npm >/dev/null 2>&1 && [ ! -d tests/js/node_modules/mathjax-full ] && [ -f tests/js/package.json ]; then
  (cd tests/js && npm ci --no-audit --no-fund --silent) || echo "note: mathjax-full could not be installed; formula typesetting tests will skip" >&2
fi

# The real Anki desktop with the AnkiConnect add-on, for the sync tests: ../shared/tools/anki_desktop.sh
# keeps it in a venv of its own (set up once: about 20 s, 622 MB; fast when it is there).
# Where it cannot be set up, those tests skip with the reason.
anki_desktop=../shared/tools/anki_desktop.sh
if [ -f "$anki_desktop" ]; then
  anki_log=$(mktemp)
  if ! bash "$anki_desktop" setup >"$anki_log" 2>&1; then
    echo "note: the Anki desktop could not be set up (bash $anki_desktop setup); the real-Anki sync tests will skip:" >&2
    tail -n 5 "$anki_log" >&2
  fi
  rm -f "$anki_log"
fi

export PATH="$PWD/$venv/bin:$PATH"
"$py" -m ruff check .
"$py" -m mypy
"$py" -m pytest "$@"

#!/usr/bin/env bash
# Regenerate requirements/test.txt: exact versions and hashes of everything the tests install
# (runtime dependencies, the test extra, the build backend), for every platform and Python >= 3.11.
# Usage: bash scripts/lock.sh            (then run bash scripts/test.sh and commit both files)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
uv pip compile pyproject.toml requirements/build.in --extra test \
  --generate-hashes --universal --python-version 3.11 \
  --custom-compile-command "bash scripts/lock.sh" \
  --quiet -o requirements/test.txt "$@"
echo "wrote requirements/test.txt"

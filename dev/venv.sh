#!/usr/bin/env bash
# Create (or refresh) .venv-<name> from dev/requirements-<name>.txt, the test tools and the project.
# Re-installs only when the requirement files or pyproject.toml changed.
set -euo pipefail
name="$1"
cd "$(dirname "$0")/.."
venv=".venv-$name"
python="${PYTHON:-python3}"
stamp_src=$(cat "dev/requirements-$name.txt" dev/requirements-test.txt pyproject.toml | sha256sum | cut -c1-16)
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.stamp" 2>/dev/null)" = "$stamp_src" ]; then
  exit 0
fi
echo "Setting up $venv (one time; a few minutes)..."
"$python" -m venv "$venv"
pip() {
  # Hide pip's notes about unused local index folders; keep real warnings and errors.
  local rc
  set +e
  "$venv/bin/python" -m pip -q --disable-pip-version-check "$@" 2>&1 | grep -v "^WARNING: Location '"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}
pip install --upgrade pip
pip install -r "dev/requirements-$name.txt" -r dev/requirements-test.txt -e .
echo "$stamp_src" >"$venv/.stamp"

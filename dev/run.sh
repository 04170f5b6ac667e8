#!/usr/bin/env bash
# Set up the Forge-pinned environment and open the Abysz LAB web UI with the demo clip loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/system-deps.sh
bash dev/venv.sh forge
exec .venv-forge/bin/python -m abysz_lab demo "$@"

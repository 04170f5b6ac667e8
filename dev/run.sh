#!/usr/bin/env bash
# Set up the Forge-pinned environment and open the Abysz LAB web UI with the demo clip loaded
# (http://127.0.0.1:7860; extra arguments go to `python -m abysz_lab ui`, e.g. --port 7861 --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/system-deps.sh
bash dev/venv.sh forge
exec .venv-forge/bin/python -m abysz_lab ui --demo "$@"

#!/usr/bin/env bash
# Set up everything and run the whole test suite in three environments:
#   a1111:  gradio 3.41.2, fastapi 0.94, numpy 1.26.2, OpenCV 4.11   (AUTOMATIC1111 1.10's pins)
#   forge:  gradio 4.40.0, fastapi 0.104, numpy 1.26.2, OpenCV 4.11  (Forge's pins)
#   numpy2: gradio 4.40.0, numpy 2.x, OpenCV 5                       (what ComfyUI and upgraded installs run)
# The browser tests depend on the gradio version only, so they run in a1111 and forge, not again in numpy2.
# Extra arguments go to pytest, e.g. `make test ARGS="-k dfi"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash dev/system-deps.sh
status=0
for env in a1111 forge numpy2; do
  bash dev/venv.sh "$env"
  echo "=== tests in the $env environment ==="
  ".venv-$env/bin/python" -c 'import gradio, numpy, cv2; print(f"gradio {gradio.__version__}, numpy {numpy.__version__}, OpenCV {cv2.__version__}")'
  marks=()
  if [ "$env" = numpy2 ]; then
    marks=(-m "not browser")
  fi
  ".venv-$env/bin/python" -m pytest "${marks[@]}" "$@" || status=$?
done
# ComfyUI nodes: real torch (CPU) tensors against tests/comfy_standin. Only the comfy tests run here;
# in the environments above they skip (no torch).
bash dev/venv.sh comfy
echo "=== ComfyUI node tests in the comfy environment ==="
.venv-comfy/bin/python -c 'import torch, numpy, cv2; print(f"torch {torch.__version__}, numpy {numpy.__version__}, OpenCV {cv2.__version__}")'
.venv-comfy/bin/python -m pytest tests/test_comfy*.py "$@" || status=$?
echo "=== lint ==="
.venv-forge/bin/ruff check . && .venv-forge/bin/ruff format --check . || status=1
exit $status

#!/usr/bin/env bash
# The Python SDK's checks (run at the end of `npm test`): a venv under .fastgpu-test/ (gitignored),
# `pip install ./python[test]` with pinned versions, `mypy --strict`, then pytest against a real
# `fastgpu up` on simulated GPUs (it runs bin/fastgpu, so dist/ must be built: `npm run build`).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.fastgpu-test/python-venv
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then
  echo "test-python: $PYTHON is $("$PYTHON" --version 2>&1); the SDK needs Python 3.9 or newer" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c python/constraints-test.txt "./python[test]"
cd python
echo "test-python: mypy --strict"
../"$VENV"/bin/mypy --strict src/fastgpu examples tests
echo "test-python: pytest"
# A hung test must not hold CI: the suite takes about a minute.
timeout 600 ../"$VENV"/bin/python -m pytest -q

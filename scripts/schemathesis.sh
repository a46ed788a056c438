#!/usr/bin/env bash
# Schemathesis (PyPI, pinned in test/contract/schemathesis-constraints.txt) against a real
# `fastgpu server` on loopback: the API only (no agent runs; the fuzzer's registered "nodes" never
# run anything). Every check, the coverage, fuzzing and stateful phases, a bounded time budget,
# once with the admin token and once without any. It must end with 0 failures. Run by `npm test`
# (dist/ must be built); the venv lives under .fastgpu-test/ (gitignored), the run in a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.fastgpu-test/schemathesis-venv
CONFIG=test/contract/schemathesis.toml
# Seconds of fuzzing for the admin run; the run without a token needs far less (every answer is a 401).
BUDGET=${FASTGPU_SCHEMATHESIS_SECONDS:-100}
if [ ! -x "$VENV/bin/st" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r test/contract/schemathesis-constraints.txt

WORK=$(mktemp -d /tmp/fastgpu-schemathesis.XXXXXX)
# The event logs of the last run stay for a look (gitignored).
REPORTS=.fastgpu-test/schemathesis-report
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
PORT=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
node bin/fastgpu server --host 127.0.0.1 --port "$PORT" --data-dir "$WORK/data" -q >"$WORK/server.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
# GET with node (no curl needed): the body on stdout, exit 1 unless 2xx.
get() { node -e 'fetch(process.argv[1], { headers: process.argv[2] ? { authorization: `Bearer ${process.argv[2]}` } : {} }).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(1))' "$@"; }
for _ in $(seq 1 100); do
  if get "$BASE/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then echo "schemathesis: the server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; fi
  sleep 0.2
done
TOKEN=$(cat "$WORK/data/admin.token")
# The spec itself needs a token: the run without one reads it from a file.
get "$BASE/v1/openapi.json" "$TOKEN" >"$WORK/openapi.json"

failed=0
run() {
  local label=$1 spec=$2; shift 2
  echo "schemathesis: $label"
  local rc=0
  "$VENV/bin/st" --config-file "$CONFIG" run "$spec" --url "$BASE" --no-color \
    --report ndjson --report-ndjson-path "$REPORTS/$label.ndjson" "$@" || rc=$?
  # Every request the fuzzer sent is one interaction in its event log.
  echo "schemathesis: $label: exit $rc, $(grep -o '"request": *{' "$REPORTS/$label.ndjson" | wc -l) requests"
  [ "$rc" = 0 ] || failed=1
}
run with-admin-token "$BASE/v1/openapi.json" -H "Authorization: Bearer $TOKEN" --max-time "$BUDGET"
run without-token "$WORK/openapi.json" --max-time 20 --phases coverage,fuzzing
if ! kill -0 "$SERVER" 2>/dev/null; then echo "schemathesis: the server died during the run:" >&2; tail -50 "$WORK/server.log" >&2; exit 1; fi
get "$BASE/healthz" >/dev/null || { echo "schemathesis: /healthz does not answer after the run" >&2; exit 1; }
if [ "$failed" != 0 ]; then echo "schemathesis: failures above; event logs in $REPORTS" >&2; exit 1; fi
echo "schemathesis: 0 failures"

#!/usr/bin/env bash
# FastGPU on a real GPU, in one call (issue 23): unpacks the self-contained bundle (no Node.js
# on the device), starts `fastgpu up --sharing mps` on the discovered GPU, runs
# bench/gpu/workload.py bare and as FastGPU tasks, and prints a table (also $OUT/table.md):
#   overhead     the workload bare, as an MPS client outside FastGPU, and as a 1.0 slice
#   packing      two 0.5 slices at once against the same two one after the other, on a workload
#                that does not fill the GPU alone (small matrices: few thread blocks)
#   SM limit     slices at 0.25 / 0.5 / 0.75: achieved share of the 1.0 slice against asked
#   memory cap   a slice allocating past its cap, and its child and setsid grandchild doing so
#   discovery    what FastGPU registered against `nvidia-smi -q`
# Every step that fails says why and the script goes on. Files back in $OUT (at most 8):
# table.md, results.jsonl, run.log, up.log, smi-q.txt, smi-query.csv, nodes.json, mps-control.log.
#
#   bench/gpu/run.sh [--dry-run] [--bundle FILE] [--fastgpu CMD] [--duration S] [--budget S]
#
# --dry-run: on a machine with no GPU: recorded H100 nvidia-smi and the fake MPS control
#   program on PATH, the workload's CPU path, tiny sizes. Numbers are not measurements; it
#   checks that the whole flow runs before a device's minutes are spent on it.
# --fastgpu CMD: use this fastgpu instead of unpacking the bundle (e.g. bin/fastgpu).
set -uo pipefail

REPO=$(CDPATH='' cd -- "$(dirname -- "$0")/../.." && pwd)
DRY=0
BUNDLE=$REPO/build/fastgpu-bundle.tar.xz
FASTGPU=
DURATION=
BUDGET=450
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --bundle) BUNDLE=$2; shift ;;
    --fastgpu) FASTGPU=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --budget) BUDGET=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

OUT=${OUT:-$REPO/bench/out/gpu}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastgpu-gpu-XXXXXX")
RESULTS=$OUT/results.jsonl
: > "$RESULTS"
exec > >(tee "$OUT/run.log") 2>&1
T0=$(date +%s)
echo "== FastGPU GPU validation $(date -u '+%Y-%m-%dT%H:%M:%SZ') $([ $DRY = 1 ] && echo '(DRY RUN: no GPU, numbers are not measurements)')"

if [ $DRY = 1 ]; then
  export PATH="$REPO/src/agent/fixtures/smi-h100:$REPO/src/agent/fixtures:$PATH"
  BACKEND=cpu; BIG=48; SMALL=16; DURATION=${DURATION:-1}; CAP_MIB=64; CHUNK=8
else
  BACKEND=cuda; BIG=8192; SMALL=1024; DURATION=${DURATION:-10}; CAP_MIB=8192; CHUNK=256
fi
# Absolute: tasks may start with a smaller PATH than this shell's.
PY=$(command -v "${PYTHON:-python3}" || echo "${PYTHON:-python3}")
WL="$REPO/bench/gpu/workload.py"
# Tasks may start with a smaller environment than this shell's: hand on where CUDA's libraries are.
TASK_ENV=()
[ -n "${LD_LIBRARY_PATH:-}" ] && TASK_ENV=(--env "LD_LIBRARY_PATH=$LD_LIBRARY_PATH")
SETTLE=$([ $DRY = 1 ] && echo 8 || echo 25)  # seconds for concurrent tasks to be placed and warm up

# ------------------------------------------------------------------ helpers
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
note() { echo "-- $*"; }
# record STEP EXIT OUTPUT_FILE [EXTRA_JSON]: one line of results.jsonl with every WORKLOAD_RESULT.
record() {
  local extra=${4:-}
  [ -n "$extra" ] || extra='{}'
  "$PY" - "$1" "$2" "$3" "$extra" >> "$RESULTS" <<'EOF'
import json, sys
step, code, path, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
res, tail = [], []
try:
    for line in open(path, errors="replace"):
        if line.startswith("WORKLOAD_RESULT "):
            try: res.append(json.loads(line[len("WORKLOAD_RESULT "):]))
            except ValueError: tail.append(line.rstrip())
        else: tail.append(line.rstrip())
except OSError as e:
    tail.append(str(e))
print(json.dumps({"step": step, "exit": code, "results": res, "tail": tail[-6:], **extra}))
EOF
}
# bare STEP ARGS…: the workload outside FastGPU (no MPS: the default pipe folder has no daemon).
bare() {
  local step=$1; shift
  if [ "$(left)" -lt 20 ]; then note "$step: skipped, out of time"; echo "{\"step\":\"$step\",\"skipped\":\"out of time\"}" >> "$RESULTS"; return; fi
  note "$step: $PY workload.py $*"
  env -u CUDA_MPS_PIPE_DIRECTORY -u CUDA_MPS_ACTIVE_THREAD_PERCENTAGE -u CUDA_MPS_PINNED_DEVICE_MEM_LIMIT \
    timeout 240 "$PY" "$WL" --backend "$BACKEND" "$@" > "$WORK/$step.out" 2>&1
  local rc=$?
  cat "$WORK/$step.out"
  record "$step" "$rc" "$WORK/$step.out"
}
# task STEP FASTGPU_RUN_FLAGS… -- WORKLOAD_ARGS…: the workload as a FastGPU task (fastgpu run).
task() {
  local step=$1; shift
  local flags=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  if [ "$(left)" -lt 20 ]; then note "$step: skipped, out of time"; echo "{\"step\":\"$step\",\"skipped\":\"out of time\"}" >> "$RESULTS"; return; fi
  if [ -z "$URL" ]; then note "$step: skipped, FastGPU is not up"; echo "{\"step\":\"$step\",\"skipped\":\"FastGPU is not up\"}" >> "$RESULTS"; return; fi
  note "$step: fastgpu run ${flags[*]} -- workload.py $*"
  timeout 300 "${FG[@]}" run --name "$step" --time-limit 4m "${TASK_ENV[@]}" "${flags[@]}" -- "$PY" "$WL" --backend "$BACKEND" "$@" > "$WORK/$step.out" 2>&1
  local rc=$?
  cat "$WORK/$step.out"
  record "$step" "$rc" "$WORK/$step.out" "{\"flags\": \"${flags[*]}\"}"
}

# ------------------------------------------------------------------ the machine
note "machine"
nvidia-smi -q > "$OUT/smi-q.txt" 2>&1 || note "nvidia-smi -q failed: $(head -1 "$OUT/smi-q.txt")"
nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits > "$OUT/smi-query.csv" 2>&1 || note "nvidia-smi query failed: $(head -1 "$OUT/smi-query.csv")"
cat "$OUT/smi-query.csv"
command -v nvidia-cuda-mps-control >/dev/null || note "nvidia-cuda-mps-control is not on PATH: the agent cannot start MPS"
if [ $DRY = 0 ]; then
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)' 2>&1 | tail -1
fi

# ------------------------------------------------------------------ FastGPU
if [ -z "$FASTGPU" ]; then
  note "unpacking $BUNDLE"
  if [ ! -f "$BUNDLE" ]; then
    note "no bundle at $BUNDLE (build it with \`npm run bundle\` and carry build/fastgpu-bundle.tar.xz)"
  elif ! tar -xJf "$BUNDLE" -C "$WORK" 2>"$WORK/tar.err"; then
    # No xz program: Python's lzma reads it too.
    note "tar -xJ failed ($(head -1 "$WORK/tar.err")); unpacking with Python"
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$BUNDLE" "$WORK" || note "could not unpack the bundle"
  fi
  FASTGPU=$WORK/fastgpu/bin/fastgpu
fi
read -r -a FG <<< "$FASTGPU"
export FASTGPU_HOME=$WORK/home
URL=
UP_PID=
# start_up SHARING: `fastgpu up` in the background; sets URL once it serves, UP_PID.
start_up() {
  note "fastgpu $("${FG[@]}" --version) up --sharing $1"
  "${FG[@]}" up --port 0 --data-dir "$WORK/data" --sharing "$1" --name gpu-node >> "$OUT/up.log" 2>&1 &
  UP_PID=$!
  for _ in $(seq 1 120); do
    URL=$(sed -n 's/^FastGPU is up at \(http[^ ]*\).*/\1/p' "$OUT/up.log" | head -1)
    [ -n "$URL" ] && return 0
    kill -0 "$UP_PID" 2>/dev/null || break
    sleep 0.5
  done
  note "fastgpu up --sharing $1 did not come up:"; tail -20 "$OUT/up.log"
  kill -KILL "$UP_PID" 2>/dev/null; UP_PID=
  return 1
}
: > "$OUT/up.log"
if "${FG[@]}" --version > /dev/null 2>&1; then
  # Without MPS the slices are not capped, but overhead and discovery still say something.
  start_up mps || { note "going on with --sharing exclusive: fractional slices will be refused"; start_up exclusive; }
else
  note "fastgpu does not run: $("${FG[@]}" --version 2>&1 | head -3)"
fi
PIPE=$WORK/data/agent/mps/pipe
[ -n "$URL" ] && head -8 "$OUT/up.log"

# ------------------------------------------------------------------ measurements
# Overhead, interleaved so that clock drift hits both sides alike.
bare  bare-1          --duration "$DURATION" --size "$BIG"
task  slice-1.0-1     --gpu 1 -- --duration "$DURATION" --size "$BIG"
bare  bare-2          --duration "$DURATION" --size "$BIG"
task  slice-1.0-2     --gpu 1 -- --duration "$DURATION" --size "$BIG"
if [ -S "$PIPE/control" ] || [ -e "$PIPE/nvidia-cuda-mps-control.pid" ]; then
  note "mps-client: the workload as an MPS client of FastGPU's daemon, outside FastGPU"
  CUDA_MPS_PIPE_DIRECTORY=$PIPE CUDA_MPS_LOG_DIRECTORY=$WORK/data/agent/mps/log timeout 240 "$PY" "$WL" --backend "$BACKEND" --duration "$DURATION" --size "$BIG" > "$WORK/mps-client.out" 2>&1
  rc=$?; cat "$WORK/mps-client.out"; record mps-client $rc "$WORK/mps-client.out"
fi

# SM limit: achieved share of the 1.0 slice against asked.
for share in 0.25 0.5 0.75; do
  task "slice-$share" --gpu "$share" -- --duration "$DURATION" --size "$BIG"
done

# Packing, on small matrices (n=$SMALL: too few thread blocks to fill the GPU alone).
task pack-seq-1 --gpu 0.5 -- --duration "$DURATION" --size "$SMALL"
task pack-seq-2 --gpu 0.5 -- --duration "$DURATION" --size "$SMALL"
if [ "$(left)" -gt 60 ] && [ -n "$URL" ]; then
  start=$(( $(date +%s) + SETTLE ))
  note "pack-par: two 0.5 slices, timed loops starting together at $start"
  for i in 1 2; do
    timeout 300 "${FG[@]}" run --name "pack-par-$i" --time-limit 4m "${TASK_ENV[@]}" --gpu 0.5 -- "$PY" "$WL" --backend "$BACKEND" --duration "$DURATION" --size "$SMALL" --start-at "$start" > "$WORK/pack-par-$i.out" 2>&1 &
    eval "PAR_$i=\$!"
  done
  wait "$PAR_1"; rc1=$?; wait "$PAR_2"; rc2=$?
  cat "$WORK/pack-par-1.out" "$WORK/pack-par-2.out"
  record pack-par-1 $rc1 "$WORK/pack-par-1.out"; record pack-par-2 $rc2 "$WORK/pack-par-2.out"
else
  note "pack-par: skipped (out of time or FastGPU not up)"
fi

# Memory cap: the task, then its child and setsid grandchild, then both holding at once.
task mem-task  --gpu 0.5 --gpu-memory "${CAP_MIB}MiB" -- --mode oom --chunk-mib "$CHUNK"
task mem-tree  --gpu 0.5 --gpu-memory "${CAP_MIB}MiB" -- --mode oom-tree --chunk-mib "$CHUNK"
task mem-share --gpu 0.5 --gpu-memory "${CAP_MIB}MiB" -- --mode share-tree --chunk-mib "$CHUNK" --hold-fraction 0.75
# Which form of CUDA_MPS_PINNED_DEVICE_MEM_LIMIT does the driver apply? (FastGPU uses the
# ordinal form; NVIDIA's k8s device plugin reported that the uuid form was not applied.)
UUID=$(cut -d, -f2 "$OUT/smi-query.csv" | head -1 | tr -d ' ')
if [ -e "$PIPE/nvidia-cuda-mps-control.pid" ] && [ -n "$UUID" ]; then
  for form in ordinal uuid; do
    key=$([ $form = ordinal ] && echo 0 || echo "$UUID")
    note "memlimit-$form: CUDA_MPS_PINNED_DEVICE_MEM_LIMIT=$key=${CAP_MIB}M outside FastGPU"
    CUDA_VISIBLE_DEVICES=$UUID CUDA_MPS_PIPE_DIRECTORY=$PIPE CUDA_MPS_LOG_DIRECTORY=$WORK/data/agent/mps/log CUDA_MPS_PINNED_DEVICE_MEM_LIMIT="$key=${CAP_MIB}M" \
      timeout 120 "$PY" "$WL" --backend "$BACKEND" --mode oom --cap-mib "$CAP_MIB" --chunk-mib "$CHUNK" > "$WORK/memlimit-$form.out" 2>&1
    rc=$?; cat "$WORK/memlimit-$form.out"; record "memlimit-$form" $rc "$WORK/memlimit-$form.out"
  done
fi

# ------------------------------------------------------------------ discovery and MPS health
if [ -n "$URL" ]; then
  "$PY" - "$FASTGPU_HOME/config.json" > "$OUT/nodes.json" 2>&1 <<'EOF' || note "could not read /v1/nodes: $(tail -1 "$OUT/nodes.json")"
import json, sys, urllib.request
cfg = json.load(open(sys.argv[1]))
req = urllib.request.Request(cfg["url"].rstrip("/") + "/v1/nodes", headers={"Authorization": "Bearer " + cfg["token"]})
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=10)), indent=1))
EOF
fi

# ------------------------------------------------------------------ stop, and did MPS stop too?
MPS_PID=$(cat "$PIPE/nvidia-cuda-mps-control.pid" 2>/dev/null)
if [ -n "$UP_PID" ]; then
  kill -TERM "$UP_PID" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$UP_PID" 2>/dev/null || break; sleep 0.25; done
  kill -0 "$UP_PID" 2>/dev/null && { note "fastgpu up did not stop on SIGTERM; killing it"; kill -KILL "$UP_PID"; }
fi
stopped=unknown
if [ -n "$MPS_PID" ]; then
  if [ -r "/proc/$MPS_PID/stat" ] && ! grep -q ') [ZX]' "/proc/$MPS_PID/stat"; then stopped=no; kill -KILL "$MPS_PID" 2>/dev/null; else stopped=yes; fi
fi
echo "{\"step\":\"mps-stop\",\"stopped\":\"$stopped\",\"pid\":\"$MPS_PID\"}" >> "$RESULTS"

# ------------------------------------------------------------------ the table
"$PY" "$REPO/bench/gpu/report.py" --results "$RESULTS" --nodes "$OUT/nodes.json" --smi-q "$OUT/smi-q.txt" \
  $([ $DRY = 1 ] && echo --dry-run) --duration "$DURATION" --big "$BIG" --small "$SMALL" --cap-mib "$CAP_MIB" > "$OUT/table.md" \
  || echo "report.py failed: the raw results are in $RESULTS"
cat "$OUT/table.md"
cp "$WORK/data/agent/mps/log/control.log" "$OUT/mps-control.log" 2>/dev/null
echo "== done in $(( $(date +%s) - T0 )) s; files in $OUT"
rm -rf "$WORK"

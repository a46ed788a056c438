#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh started (by PID file) and removes its folder.
R=${SLURM_ROOT:-/tmp/fastgpu-slurm}
stop() { local p; p=$(cat "$1" 2>/dev/null) || return 0; kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$p" 2>/dev/null; }
for f in "$R"/run/slurmd-*.pid; do stop "$f"; done
stop "$R/run/slurmctld.pid"
rm -rf "$R"

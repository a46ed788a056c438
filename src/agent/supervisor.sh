#!/bin/sh
# FastGPU task supervisor: runs one attempt of one task, detached from the agent.
#
#   supervisor.sh DIR TIMEOUT_BIN LIMIT_MS GRACE_MS WORKDIR LEASE_FILE -- COMMAND [ARGS...]
#
# The agent starts it in a new session (setsid) with the task's environment and returns at once.
# It owns the attempt's files in DIR, so the task outlives the agent and a restarted agent can
# re-attach from DIR alone:
#   pid         "<task process group> <supervisor pid>", written once the task runs (in one
#               write; its mtime is the start time)
#   stdout.log  stderr.log   the task's output
#   claim       our pid, created exclusively before anything else is done (see below)
#   error       why the launch failed (launch failures only)
#   exit        written last and atomically (exit.tmp → exit): status=, timedout=, launchfailed=,
#               started=, ended=, and fenced=1 when the lease watch below stopped the task.
#               Its presence means the attempt is over.
# Fencing (src/protocol/lease.ts): LEASE_FILE (when not empty) holds "DEADLINE_MS GRACE_MS": the
# epoch ms until which the agent's node lease is safe, and the fence's grace. Once the deadline
# passes without a renewal (the agent is paused, dead, or cut off from the server), this
# supervisor stops the task by itself: SIGTERM, then SIGKILL of the whole group GRACE_MS later,
# well before the server may run the task elsewhere.
# The task runs under GNU timeout, in a process group of its own (timeout's), so the agent can
# signal the whole task tree without touching this script: SIGTERM goes to timeout, which passes
# it on to the group, SIGKILL to the whole group. LIMIT_MS 0 means
# no time limit. A SIGTERM from the agent also arms
# timeout's --kill-after, so the escalation to SIGKILL happens even if the agent is gone.
# Shell variables here are not exported: the task sees exactly the environment it was given.

dir=$1 tmo=$2 limit_ms=$3 grace_ms=$4 workdir=$5 lease=
# LEASE_FILE may be left out altogether (then `--` comes sixth): no fencing.
if [ "$6" = -- ]; then shift 6; else lease=$6; shift 7; fi
# Milliseconds as the seconds timeout takes, with builtins only: no fork before the task starts.
secs() {
  r=$(($1 % 1000))
  case ${#r} in 1) r=00$r ;; 2) r=0$r ;; esac
  s=$(($1 / 1000)).$r
}
secs "$limit_ms"; limit=$s
secs "$grace_ms"; grace=$s

# The task's PATH is for the task; our own helpers (mv, date) come from the system's.
task_path=${PATH-}
PATH=/usr/local/bin:/usr/bin:/bin

now_ms() { date +%s%3N; }

# finish STATUS TIMEDOUT LAUNCHFAILED STARTED [FENCED]
finish() {
  printf 'status=%s\ntimedout=%s\nlaunchfailed=%s\nstarted=%s\nended=%s\nfenced=%s\n' \
    "$1" "$2" "$3" "$4" "$(now_ms)" "${5:-0}" >"$dir/exit.tmp" && mv -f "$dir/exit.tmp" "$dir/exit"
}

# fence_watch PGID: sleeps until the lease deadline, reads it again (the agent renews it), and
# fences the task once it has passed. One `sleep` per renewal period, not a busy poll. It
# outlives a supervisor killed outright (the OOM killer), so the task stays fenced, and ends once
# nothing of the task is left, its first process (which may not have made its group yet) nor
# its process group: a group killed from outside (with its supervisor) must not leave a watcher
# looping forever.
fence_watch() {
  while kill -0 "$1" 2>/dev/null || kill -0 "-$1" 2>/dev/null; do
    deadline= fgrace=
    read -r deadline fgrace <"$lease" 2>/dev/null
    case $deadline in '' | *[!0-9]*) sleep 1; continue ;; esac
    case $fgrace in '' | *[!0-9]*) fgrace=0 ;; esac
    left=$((deadline - $(now_ms)))
    if [ "$left" -le 0 ]; then
      : >"$dir/fenced"
      kill -TERM "$1" 2>/dev/null
      secs "$fgrace"; sleep "$s"
      kill -KILL "-$1" 2>/dev/null
      exit 0
    fi
    # Wake at the deadline (at least every 5 s, so a moved-back deadline is seen in time).
    [ "$left" -gt 5000 ] && left=5000
    secs "$left"; sleep "$s"
  done
}

# launch_failed STATUS MESSAGE
launch_failed() {
  printf '%s\n' "$2" >"$dir/error"
  printf '%s\n' "fastgpu: $2" >>"$dir/stderr.log"
  finish "$1" 0 1 "$(now_ms)"
  exit 0
}

exec </dev/null >/dev/null 2>/dev/null
# The task's files are the agent's alone (logs may hold secrets); a task run as another user
# reads none of them, nor another task's.
umask 077
: >>"$dir/stdout.log"
: >>"$dir/stderr.log"

# Never run twice: an `exit` here means the agent already gave up on this launch. A `stop` here
# means the task was cancelled before it started.
[ -e "$dir/exit" ] && exit 0
# The claim decides, atomically, between us and an agent that gives up on a launch it finds
# stuck (it crashed before starting us, or we are slow to start): both create `claim` with
# O_EXCL (noclobber), and only the one that creates it goes on. Ours holds our pid, so the agent
# can tell a supervisor that is still starting from one that died.
set -C
printf '%s\n' "$$" >"$dir/claim" || exit 0
set +C
if [ -e "$dir/stop" ]; then finish 143 0 0 "$(now_ms)"; exit 0; fi

if [ -n "$workdir" ]; then
  cd "$workdir" || launch_failed 126 "workdir $workdir does not exist or is not accessible"
fi
case $1 in
  */*) [ -f "$1" ] || launch_failed 127 "command not found: $1"
       [ -x "$1" ] || launch_failed 126 "command is not executable: $1" ;;
  *) PATH=$task_path command -v "$1" >/dev/null || launch_failed 127 "command not found: $1" ;;
esac

# Every descendant of the task, wherever it goes (setsid, double fork), is tracked: in a cgroup
# v2 of its own when the agent could make one (its path is in `cgroup`; the task's first process
# moves itself there before it execs, so nothing it starts is outside), else by the
# FASTGPU_TASK_ID/FASTGPU_ATTEMPT pair every descendant inherits (sweep, below).
# `runas` ("UID GID"): the task runs as that unprivileged user (setpriv), not as the agent.
runas=
if [ -f "$dir/runas" ] && read -r ra_uid ra_gid ra_bin <"$dir/runas"; then
  runas="$ra_bin --reuid=$ra_uid --regid=$ra_gid --clear-groups --"
fi
cg=
if [ -f "$dir/cgroup" ] && read -r cg <"$dir/cgroup" && mkdir -p "$cg" 2>/dev/null && [ -w "$cg/cgroup.procs" ]; then :; else cg=; fi
if [ -n "$cg" ]; then
  PATH=$task_path /bin/sh -c 'echo $$ >"$0/cgroup.procs" 2>/dev/null; exec "$@"' "$cg" "$tmo" --kill-after="$grace" "$limit" $runas "$@" >>"$dir/stdout.log" 2>>"$dir/stderr.log" &
else
  PATH=$task_path "$tmo" --kill-after="$grace" "$limit" $runas "$@" >>"$dir/stdout.log" 2>>"$dir/stderr.log" &
fi
task=$!
# One small write with a builtin: no fork before the agent can see the pid; readers ignore a
# line without its newline.
printf '%s %s\n' "$task" "$$" >"$dir/pid"
started=$(now_ms)
# A stop order that came before the pid was visible: the agent wrote `stop` first, so either it
# saw our pid or we see its marker.
if [ -e "$dir/stop" ]; then kill -TERM "$task" 2>/dev/null; fi
watch=
if [ -n "$lease" ]; then
  fence_watch "$task" &
  watch=$!
fi

wait "$task"
status=$?
[ -n "$watch" ] && kill "$watch" 2>/dev/null
# Whatever the task left behind goes with it (as Slurm ends a job step): its process group,
# then every process of its cgroup, then (no cgroup, or one that could not be joined) every
# process that carries this attempt's FASTGPU_TASK_ID and FASTGPU_ATTEMPT, even in a new session.
kill -KILL "-$task" 2>/dev/null
sweep() {
  found=0
  if [ -n "$cg" ] && [ -r "$cg/cgroup.procs" ]; then
    [ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill" 2>/dev/null
    for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null && found=1; done
  fi
  if [ -z "$cg" ] && [ -n "${FASTGPU_TASK_ID-}" ] && [ -n "${FASTGPU_ATTEMPT-}" ]; then
    for e in /proc/[0-9]*/environ; do
      p=${e#/proc/}; p=${p%/environ}
      [ "$p" = "$$" ] && continue
      grep -qzx "FASTGPU_TASK_ID=$FASTGPU_TASK_ID" "$e" 2>/dev/null || continue
      grep -qzx "FASTGPU_ATTEMPT=$FASTGPU_ATTEMPT" "$e" 2>/dev/null || continue
      kill -KILL "$p" 2>/dev/null && found=1
    done
  fi
}
# A process can fork while the sweep runs: sweep until one finds nobody (bounded).
i=0
while [ $i -lt 20 ]; do
  sweep
  [ $found -eq 0 ] && break
  i=$((i + 1))
done
[ -n "$cg" ] && rmdir "$cg" 2>/dev/null
fenced=0
[ -e "$dir/fenced" ] && fenced=1

# GNU timeout exits 124 when the limit struck and the task then ended, or dies of SIGKILL (137)
# when it needed --kill-after. A task can exit 124/137 by itself, so the elapsed time decides.
timedout=0
case $status in
  124 | 137)
    if [ "$limit_ms" -gt 0 ] && [ $(($(now_ms) - started + 50)) -ge "$limit_ms" ]; then timedout=1; fi ;;
esac
finish "$status" "$timedout" 0 "$started" "$fenced"

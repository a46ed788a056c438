#!/usr/bin/env bash
# A throwaway single-host Slurm cluster (Debian's slurm-wlm 22.05) with fake GPUs, for the slurm
# provider's tests. Root only. Everything lives under $SLURM_ROOT (default /tmp/fastgpu-slurm) and
# listens on loopback. Prints `SLURM_ROOT=…` when the node is idle. Stop it with scripts/slurm-down.sh.
#   SLURM_GPUS  fake GPUs on the node (default 4)
set -euo pipefail
R=${SLURM_ROOT:-/tmp/fastgpu-slurm}
GPUS=${SLURM_GPUS:-4}
H=$(hostname -s)

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 slurm-wlm munge >/dev/null
fi

mkdir -p "$R"/{state,spool,log,run,dev}
# GPU GRES needs File= entries that are character devices, else slurmd refuses the config.
for ((i = 0; i < GPUS; i++)); do [ -c "$R/dev/nvidia$i" ] || mknod "$R/dev/nvidia$i" c 195 "$i"; done

[ -s /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
munge -n | unmunge >/dev/null

mkdir -p /etc/slurm
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=fastgpu-test
SlurmctldHost=$H(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$R/state
SlurmdSpoolDir=$R/spool/%n
SlurmctldPidFile=$R/run/slurmctld.pid
SlurmdPidFile=$R/run/slurmd-%n.pid
SlurmctldLogFile=$R/log/slurmctld.log
SlurmdLogFile=$R/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
GresTypes=gpu
# The node declares more CPUs than this test machine has; accept the declared figures.
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
KillWait=5
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=8 Sockets=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=8000 Gres=gpu:a100:$GPUS State=UNKNOWN
PartitionName=gpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
echo "NodeName=$H Name=gpu Type=a100 File=$R/dev/nvidia[0-$((GPUS - 1))]" > /etc/slurm/gres.conf

if ! scontrol ping 2>/dev/null | grep -q UP; then slurmctld; fi
for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.1; done
mkdir -p "$R/spool/$H"
[ -s "$R/run/slurmd-$H.pid" ] && kill -0 "$(cat "$R/run/slurmd-$H.pid")" 2>/dev/null || slurmd
for _ in $(seq 1 150); do
  [ "$(timeout 5 sinfo -h -N -t idle,mixed,alloc -o %N | wc -l)" -ge 1 ] && break
  sleep 0.2
done
timeout 5 sinfo -h -N -t idle,mixed,alloc -o %N | grep -q . || { echo "slurm-up: the node did not come up; see $R/log" >&2; exit 1; }
echo "SLURM_ROOT=$R"

#!/usr/bin/env bash
# A throwaway single-node SLURM cluster for tests, in one directory, without systemd.
#
#   tests/slurm_cluster.sh start DIR   install slurm-wlm and munge when absent (root, apt-get;
#                                      FIGUREFLOW_SLURM_INSTALL=0 forbids it), write DIR/slurm.conf,
#                                      start munged, slurmctld and slurmd, wait for the node
#   tests/slurm_cluster.sh stop DIR    stop the daemons this script started (by the PIDs in DIR)
#                                      (start also clears a throwaway cluster whose controller died)
#
# While it runs, point the SLURM commands at it: export SLURM_CONF=DIR/slurm.conf. Commands
# inside jobs find it at the standard place: /etc/slurm/slurm.conf becomes a link to it (start
# refuses when a real configuration is there; stop removes the link).
# The cluster has no accounting database, so `sacct` cannot answer: run Snakemake with
# `--slurm-status-command squeue` (MinJobAge is 300 s, so squeue still sees finished jobs).
# Exit status 3 from `start`: SLURM is absent and cannot be installed here (the reason is printed).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

stop() {
    local dir=${1:-$dir} name pid
    for name in slurmd slurmctld munged; do
        [[ -f "$dir/$name.pid" ]] || continue
        pid=$(cat "$dir/$name.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -f "$dir/$name.pid"
    done
    if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$dir/slurm.conf" ]]; then
        rm -f /etc/slurm/slurm.conf
    fi
    if [[ -f "$dir/munge.dir" ]]; then
        rm -rf "$(cat "$dir/munge.dir")" "$dir/munge.dir"
    fi
}

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
        return 0
    fi
    if [[ ${FIGUREFLOW_SLURM_INSTALL:-1} == 0 ]]; then
        echo "SLURM is not installed and FIGUREFLOW_SLURM_INSTALL=0 forbids installing it" >&2; exit 3
    fi
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
        echo "SLURM is not installed, and installing it needs root and apt-get (Debian: apt-get install slurm-wlm munge)" >&2; exit 3
    fi
    echo "installing slurm-wlm and munge (apt-get)" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$dir/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$dir/apt.log" 2>&1 \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$dir/apt.log" 2>&1 \
            || { echo "apt-get install slurm-wlm munge failed; see $dir/apt.log" >&2; exit 3; }
    fi
}

start() {
    [[ $(id -u) -eq 0 ]] || { echo "the throwaway cluster runs its daemons as root; run as root" >&2; exit 3; }
    install_packages
    stop  # a previous cluster in the same directory
    if [[ -L /etc/slurm/slurm.conf && ! -e /etc/slurm/slurm.conf ]]; then
        rm -f /etc/slurm/slurm.conf  # left by a throwaway cluster whose directory is gone
    fi
    if [[ -L /etc/slurm/slurm.conf ]] && grep -q "^ClusterName=figureflow$" /etc/slurm/slurm.conf; then
        # left by a throwaway cluster killed before its stop (an interrupted test run): when its
        # controller no longer runs, clear what remains of it
        local old
        old=$(dirname "$(readlink /etc/slurm/slurm.conf)")
        if ! { [[ -f "$old/slurmctld.pid" ]] && kill -0 "$(cat "$old/slurmctld.pid")" 2>/dev/null; }; then
            echo "clearing a throwaway cluster left in $old (its controller is gone)" >&2
            stop "$old"
            rm -f /etc/slurm/slurm.conf
        fi
    fi
    if [[ -e /etc/slurm/slurm.conf ]]; then
        echo "a SLURM configuration exists at /etc/slurm/slurm.conf (a real cluster, or another throwaway one); not replacing it" >&2; exit 3
    fi
    local host node_line munge
    host=$(hostname -s)
    mkdir -p "$dir/state" "$dir/spool" "$dir/logs"
    # munge with its own key and socket, so that a system munged (if any) is left alone; in a
    # directory of its own under /tmp, which the munge user can reach (DIR may sit in a private one)
    munge=$(mktemp -d /tmp/figureflow-munge.XXXXXX)
    echo "$munge" >"$dir/munge.dir"
    chown munge:munge "$munge"
    chmod 0700 "$munge"
    runuser -u munge -- mungekey --create --keyfile="$munge/munge.key"
    runuser -u munge -- munged --socket="$munge/munge.socket" --key-file="$munge/munge.key" \
        --pid-file="$munge/munged.pid" --log-file="$munge/munged.log" --seed-file="$munge/munged.seed" --force
    for _ in $(seq 50); do [[ -s "$munge/munged.pid" ]] && break; sleep 0.1; done
    cp "$munge/munged.pid" "$dir/munged.pid"

    # one node as slurmd sees it, one default partition, no accounting, no cgroups
    node_line=$(slurmd -C | head -n 1)
    cat >"$dir/slurm.conf" <<EOF
ClusterName=figureflow
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=${FIGUREFLOW_SLURMCTLD_PORT:-16817}
SlurmdPort=${FIGUREFLOW_SLURMD_PORT:-16818}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/logs/slurmctld.log
SlurmdLogFile=$dir/logs/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=300
KillWait=5
InactiveLimit=0
SchedulerType=sched/backfill
$node_line State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    # jobs' own srun (Snakemake's job step) drops SLURM_CONF and reads the standard place
    mkdir -p /etc/slurm
    ln -s "$dir/slurm.conf" /etc/slurm/slurm.conf
    export SLURM_CONF="$dir/slurm.conf"
    slurmctld -D -i -f "$dir/slurm.conf" >"$dir/logs/slurmctld.out" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    slurmd -D -f "$dir/slurm.conf" >"$dir/logs/slurmd.out" 2>&1 &
    echo $! >"$dir/slurmd.pid"
    for _ in $(seq 300); do
        if sinfo -h -N -o "%T" 2>/dev/null | grep -q -E "^idle"; then
            echo "SLURM cluster up: export SLURM_CONF=$dir/slurm.conf" >&2
            return 0
        fi
        sleep 0.1
    done
    echo "the node did not become idle in 30 s; logs in $dir/logs" >&2
    sinfo >&2 || true
    stop
    exit 1
}

case $action in
    start) start ;;
    stop) stop ;;
    *) usage ;;
esac

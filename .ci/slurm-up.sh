#!/usr/bin/env bash
# Single-node SLURM on this host (controller + compute node), no systemd.
# SLURM_ACCOUNTING=slurmdbd (default: MariaDB + slurmdbd, sacct works)
# SLURM_ACCOUNTING=none     (no database; sacct fails, use squeue for status)
# Owned by mmdiffbench CI; recipe and traps: ../shared/reference/slurm-local.md (tested there).
# Idempotent: re-running restarts the Slurm daemons and reuses munged/MariaDB when running.
# Without accounting (slurmdbd) the Snakemake SLURM plugin's sacct status check hangs for ever,
# so the default mode brings up MariaDB + slurmdbd.
set -euo pipefail
ACCOUNTING="${SLURM_ACCOUNTING:-slurmdbd}"
NGPUS="${SLURM_FAKE_GPUS:-2}"
export DEBIAN_FRONTEND=noninteractive
t0=$SECONDS
log() { echo "[slurm-up +$((SECONDS-t0))s] $*"; }

# 1. packages (Debian 12: Slurm 22.05.8, munge 0.5.15, MariaDB 10.11)
pkgs="slurmctld slurmd slurm-client munge"
[ "$ACCOUNTING" = slurmdbd ] && pkgs="$pkgs slurmdbd mariadb-server"
apt-get update -qq
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
log "packages installed"

# stop daemons left over from an earlier run (by pid file, never by name)
for pf in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid; do
  if [ -f "$pf" ]; then kill "$(cat "$pf")" 2>/dev/null || true; rm -f "$pf"; fi
done
sleep 1

# 2. munge (the Debian postinst already created /etc/munge/munge.key)
if [ ! -s /etc/munge/munge.key ]; then runuser -u munge -- mungekey -c; fi
install -d -o munge -g munge -m 0755 /run/munge
munge -n >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
log "munged up"

# 3. fake GPU device files: File= must be a character device -> symlink to /dev/null
for i in $(seq 0 $((NGPUS - 1))); do ln -sfn /dev/null /var/lib/slurm/fake-gpu$i; done

# 4. slurm.conf + gres.conf
HOST=$(hostname -s)
CPUS=$(nproc)
MEM=$(( $(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p') - 512 ))
if [ "$ACCOUNTING" = slurmdbd ]; then
  ACCT=$'AccountingStorageType=accounting_storage/slurmdbd\nAccountingStorageHost=localhost\nAccountingStorageTRES=gres/gpu'
else
  ACCT='AccountingStorageType=accounting_storage/none'
fi
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=${HOST}(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
${ACCT}
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=300
GresTypes=gpu
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=${HOST} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${MEM} Gres=gpu:${NGPUS} State=UNKNOWN
PartitionName=main Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
cat > /etc/slurm/gres.conf <<CONF
AutoDetect=off
NodeName=${HOST} Name=gpu File=/var/lib/slurm/fake-gpu[0-$((NGPUS - 1))]
CONF

# 5. accounting database (only for SLURM_ACCOUNTING=slurmdbd)
if [ "$ACCOUNTING" = slurmdbd ]; then
  install -d -o mysql -g mysql /run/mysqld
  if ! mariadb-admin ping >/dev/null 2>&1; then
    (setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
       >/var/log/slurm/mariadbd.log 2>&1 &)
    for _ in $(seq 100); do mariadb-admin ping >/dev/null 2>&1 && break; sleep 0.2; done
  fi
  mariadb -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
    CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm-ci';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';"
  log "mariadb up"
  cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm-ci
StorageLoc=slurm_acct_db
PidFile=/run/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
CONF
  chown slurm:slurm /etc/slurm/slurmdbd.conf
  chmod 600 /etc/slurm/slurmdbd.conf
  /usr/sbin/slurmdbd
  for _ in $(seq 100); do sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.2; done
  sacctmgr -n -P show cluster format=cluster | grep -qx ci || sacctmgr -i add cluster ci >/dev/null
  sacctmgr -n -P show account format=account | grep -qx ci || \
    sacctmgr -i add account ci Description=ci Organization=ci >/dev/null
  sacctmgr -n -P show assoc where user=root account=ci format=user | grep -qx root || \
    sacctmgr -i add user root Account=ci >/dev/null
  log "slurmdbd up, cluster/account/user registered"
fi

# 6. controller + node daemon
/usr/sbin/slurmctld
/usr/sbin/slurmd
for _ in $(seq 150); do
  case "$(sinfo -h -n "$HOST" -o %T 2>/dev/null)" in idle|mixed|allocated) break;; esac
  sleep 0.2
done
if ! sinfo -h -n "$HOST" -o %T | grep -Eq '^(idle|mixed|allocated)$'; then
  sinfo -R; tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log; exit 1
fi
log "cluster ready: $(sinfo -h -o '%P %N %T %G')"

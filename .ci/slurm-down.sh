#!/usr/bin/env bash
# Stop what .ci/slurm-up.sh started, by pid file only (never by process name).
for pf in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid /run/munge/munged.pid; do
  [ -f "$pf" ] || continue
  pid=$(cat "$pf"); kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  rm -f "$pf"
done

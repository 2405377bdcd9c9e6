# shellcheck shell=bash
# scripts/lib/cgroup.sh - a cgroup per background process of a test rig (scripts/lab/testhosts.sh).
# Needs log, CG_PREFIX and RIG.

# Every background process of a rig runs in a cgroup of its own, UNIT being
# the machine name or "http": $CG_PREFIX/RIG/UNIT in each hierarchy nspawn
# uses. That lets down kill exactly what the rig started, even what a killed
# up never recorded. And nspawn needs it: with --keep-unit it puts itself in
# ./supervisor and the container in ./payload of the cgroup it was started in,
# so two containers started from one cgroup would share one payload cgroup.
cgroup_roots() {
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    printf '%s\n' /sys/fs/cgroup
  else
    local h
    for h in unified systemd; do
      [[ -f /sys/fs/cgroup/$h/cgroup.procs ]] && printf '%s\n' "/sys/fs/cgroup/$h"
    done
  fi
  return 0
}

unit_cgroups() { # UNIT
  local r
  while read -r r; do
    printf '%s/%s/%s/%s\n' "$r" "$CG_PREFIX" "$RIG" "$1"
  done < <(cgroup_roots)
}

cgroup_enter() { # UNIT: move the calling (sub)shell into UNIT's cgroups
  local cg
  while read -r cg; do
    mkdir -p "$cg"
    echo "$BASHPID" >"$cg/cgroup.procs"
  done < <(unit_cgroups "$1")
}

cgroup_pids() { # UNIT: all pids in UNIT's cgroup trees
  local cg
  while read -r cg; do
    [[ -d $cg ]] || continue
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
  done < <(unit_cgroups "$1") | sort -un
}

cgroup_kill() { # UNIT: SIGKILL everything in UNIT's cgroups
  local cg pid
  while read -r cg; do
    # A cgroup (or a process below) can go away between listing and killing: that is what we want, so no
    # error; a failing last command of an && list would end the caller under set -e.
    if [[ -f $cg/cgroup.kill ]]; then { echo 1 >"$cg/cgroup.kill"; } 2>/dev/null || true; fi
  done < <(unit_cgroups "$1")
  while read -r pid; do
    if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done < <(cgroup_pids "$1")
  return 0
}

cgroup_wait_empty() { # UNIT: wait (at most 10 s) until UNIT has no process left
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -z $(cgroup_pids "$1") ]] && return 0
    sleep 0.1
  done
  log "warning: cgroup $1 of rig $RIG still has processes: $(cgroup_pids "$1" | tr '\n' ' ')"
  return 1
}

cgroup_remove() { # UNIT: remove UNIT's (empty) cgroup directories
  local cg
  while read -r cg; do
    [[ -d $cg ]] || continue
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done < <(unit_cgroups "$1")
  return 0
}

cgroup_remove_rig() { # kill what is left in any cgroup of the rig, remove them all
  local r u
  while read -r r; do
    for u in "$r/$CG_PREFIX/$RIG"/*/; do
      [[ -d $u ]] || continue
      u=${u%/}
      u=${u##*/}
      cgroup_kill "$u"
      cgroup_wait_empty "$u" || true
      cgroup_remove "$u"
    done
    rmdir "$r/$CG_PREFIX/$RIG" 2>/dev/null || true
    rmdir "$r/$CG_PREFIX" 2>/dev/null || true
  done < <(cgroup_roots)
  return 0
}

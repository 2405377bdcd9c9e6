# shellcheck shell=bash
# Pid files that survive pid reuse: a pid file holds "PID STARTTIME", and a process counts as the one we
# started only while /proc still reports that start time. Shared by scripts/lab/{testhosts,hcloud-standin,s3-server}.sh.

# proc_starttime PID: the process's start time in clock ticks since boot; fails for a dead or zombie process.
proc_starttime() {
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  read -r -a f <<<"$s"
  [[ ${f[0]} != Z ]] || return 1 # zombie: already dead
  printf '%s\n' "${f[19]}"
}

# write_pidfile FILE PID
write_pidfile() {
  local st
  st=$(proc_starttime "$2") || return 1
  printf '%s %s\n' "$2" "$st" >"$1"
}

# pidfile_alive FILE: prints the pid recorded in FILE if that very process is still alive.
pidfile_alive() {
  local pid st now
  [[ -f $1 ]] || return 1
  read -r pid st <"$1" || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  now=$(proc_starttime "$pid") || return 1
  [[ $now == "$st" ]] || return 1
  printf '%s\n' "$pid"
}

# json_str TEXT: TEXT as a JSON string literal (backslashes and double quotes escaped).
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

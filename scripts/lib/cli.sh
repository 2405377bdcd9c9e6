# shellcheck shell=bash
# scripts/lib/cli.sh - messages and options of the command-line scripts (scripts/lab/*.sh).
# The script sets CLI_NAME, the prefix of its messages, before using these. Its header comment is its help:
# the lines after the shebang up to the first line that is not a comment; its usage is the part of that
# header from the line "# Usage:" to the next line that is only "#".

log() { printf '%s: %s\n' "$CLI_NAME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$CLI_NAME" "$*" >&2; exit 1; }

cli_help() { sed -n '2,/^[^#]/{/^[^#]/d;/^# shellcheck /d;s/^# \{0,1\}//;p;}' "$0"; }
# cli_answer_help ARG...: with -h or --help first, prints the script's help (its header comment) and exits 0.
cli_answer_help() {
  case ${1:-} in -h | --help) cli_help; exit 0 ;; esac
}
cli_usage() { sed -n '/^# Usage:/,/^#$/{/^#$/d;s/^# \{0,1\}//;p;}' "$0"; }

# usage_error TEXT: TEXT and the usage on stderr, exit 2.
usage_error() {
  printf '%s: %s\n' "$CLI_NAME" "$*" >&2
  cli_usage >&2
  exit 2
}

# cli_options HANDLER ARG...: for each `--option VALUE` or `--option=VALUE` in ARG..., calls `HANDLER --option
# VALUE`; anything else is a usage error. HANDLER returns non-zero for an option it does not know.
cli_options() {
  local handler=$1 opt val
  shift
  while (($# > 0)); do
    opt=$1
    case $opt in
      --*=*) val=${opt#*=}; opt=${opt%%=*}; shift ;;
      --*)
        (($# >= 2)) || usage_error "option $opt needs a value"
        val=$2; shift 2 ;;
      *) usage_error "unexpected argument: $opt" ;;
    esac
    "$handler" "$opt" "$val" || usage_error "unknown option: $opt"
  done
}

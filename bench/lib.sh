# Shared by the HTTP benchmarks (sourced, not run): the binary under test,
# seconds per run from $1, wrk (installed when missing: it is a Debian
# package), and a scratch directory whose servers (PIDS) are stopped and whose
# files are removed on exit. NAME is the benchmark's name, for messages.
RUBRICA=${RUBRICA:-$(pwd)/build/rubrica}
SECONDS_PER_RUN=${1:-10}
export RUBRICA_KEY_PASS=${RUBRICA_KEY_PASS:-$NAME-passphrase}
# A machine whose package lists are stale needs an update first.
command -v wrk >/dev/null ||
  { apt-get install -y wrk || { apt-get update -qq && apt-get install -y wrk; }; } >/dev/null 2>&1 ||
  { echo "$NAME: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rubrica-$NAME.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
DATA=$WORK/data

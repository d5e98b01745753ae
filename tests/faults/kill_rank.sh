#!/usr/bin/env bash
# A rank of a training job dies by SIGKILL in the middle of an epoch; every other rank
# must exit non-zero within BOUND seconds of the kill, stderr must name the lost rank,
# and no process of the job may be left behind (running or zombie).
#   kill_rank.sh LAUNCH NP VICTIM EPOCH BOUND PATTERN mixgcn-train [flags...]
# LAUNCH: mpi (mpirun -np NP ... --comm mpi) or gloo (separate processes through
# tests/comm/launch_ranks.sh, --comm gloo). The victim kills itself with a real SIGKILL
# in epoch EPOCH (MIXGCN_DEBUG_KILL_AT=VICTIM:EPOCH, after the training forward pass,
# while its peers wait for it in a collective). PATTERN (grep -E) must match stderr.
set -u
if [ $# -lt 7 ]; then
  echo "usage: $0 mpi|gloo NP VICTIM EPOCH BOUND PATTERN mixgcn-train [flags...]" >&2
  exit 2
fi
launch=$1 np=$2 victim=$3 epoch=$4 bound=$5 pattern=$6
shift 6
train=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-kill.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
fail() {
  echo "kill_rank: FAIL: $*" >&2
  echo "---- stderr of the job ----" >&2
  cat "$work/err" >&2
  exit 1
}

# The job's own folder is in every rank's command line (--json), so its processes are
# the ones whose command line names it.
export MIXGCN_DEBUG_KILL_AT="$victim:$epoch" OMP_NUM_THREADS=1
case $launch in
  mpi) setsid "${MPIEXEC:-mpirun}" --oversubscribe -np "$np" "$train" --comm mpi "$@" --json "$work/out.json" \
         >"$work/out" 2>"$work/err" &
       ;;
  gloo) setsid "$here/../comm/launch_ranks.sh" "$np" 90 "$train" --comm gloo "$@" --json "$work/out.json" \
          >"$work/out" 2>"$work/err" &
        ;;
  *) echo "kill_rank: unknown launcher '$launch' (mpi or gloo)" >&2; exit 2 ;;
esac
job=$!
start=$(now)

# Wait for the victim's SIGKILL (it announces it on stderr just before, with the time).
killed=""
job_pids=""  # every process of the job seen while it ran, for the check at the end
while [ -z "$killed" ]; do
  job_pids="$job_pids $(pgrep -f -- "$work" | tr '\n' ' ')"
  if line=$(grep -m1 "rank $victim raises SIGKILL in epoch $epoch" "$work/err" 2>/dev/null); then
    # The victim prints the wall-clock time of its kill; without it, when we saw it.
    killed=$(echo "$line" | sed -n 's/.* at \([0-9.]*\) .*/\1/p')
    [ -n "$killed" ] || killed=$(now)
    break
  fi
  if ! kill -0 "$job" 2>/dev/null; then fail "the job ended before rank $victim reached epoch $epoch"; fi
  if (($(echo "$(now) - $start > 60" | bc))); then
    kill -KILL -- -"$job" 2>/dev/null
    fail "rank $victim did not reach epoch $epoch within 60 s"
  fi
  sleep 0.05
done

# Every other rank must be gone within the bound.
while kill -0 "$job" 2>/dev/null; do
  if (($(echo "$(now) - $killed > $bound + 10" | bc))); then
    echo "---- the job's processes, $((bound + 10)) s after the kill ----" >&2
    for p in $(pgrep -f -- "$work"); do
      echo "$(cut -d' ' -f1-4 "/proc/$p/stat" 2>/dev/null) rank=$(tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null |
        sed -n 's/^MIXGCN_RANK=//p;s/^OMPI_COMM_WORLD_RANK=//p')" >&2
      if [ -n "${KILL_RANK_GDB:-}" ] && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = mixgcn-train ]; then
        gdb -p "$p" -batch -ex "thread apply all bt 12" 2>/dev/null | grep -E "^#|^Thread" | cut -c1-200 >&2
      fi
    done
    kill -KILL -- -"$job" 2>/dev/null
    wait "$job" 2>/dev/null
    fail "the job was still running $((bound + 10)) s after rank $victim was killed (a rank hung)"
  fi
  sleep 0.05
done
ended=$(now)
wait "$job"
rc=$?
elapsed=$(echo "$ended - $killed" | bc)
printf 'kill_rank: %s, %s ranks, rank %s killed in epoch %s; the job ended %.2f s later with status %s\n' \
  "$launch" "$np" "$victim" "$epoch" "$elapsed" "$rc" >&2

[ "$rc" -ne 0 ] || fail "the job exited 0 although rank $victim was killed"
(($(echo "$elapsed <= $bound" | bc))) || fail "the other ranks took ${elapsed} s to exit (bound ${bound} s)"
if [ "$launch" = gloo ]; then
  # launch_ranks.sh reports each rank's status: the victim's and every survivor's non-zero.
  for ((i = 0; i < np; i++)); do
    line=$(grep -E "^launch_ranks: rank $i exited with status [0-9]+" "$work/err") ||
      fail "rank $i exited 0 (or was never reported) although rank $victim was lost"
    st=${line##* }
    if [ "$i" -eq "$victim" ]; then
      [ "$st" -eq 137 ] || fail "the victim rank $i exited with status $st, not 137 (SIGKILL)"
    else
      [ "$st" -ne 124 ] && [ "$st" -ne 137 ] || fail "rank $i was killed by the launcher's timeout (status $st): it hung"
    fi
  done
fi
grep -Eq "$pattern" "$work/err" || fail "stderr does not name the lost rank (no match for '$pattern')"

# Nothing of the job is left: none of the processes seen while it ran still exists, not
# even as a zombie (whose command line is empty), and no process names its folder. An
# orphan that mpirun did not reap is reaped by init a moment later, so allow 5 s.
job_pids=$(echo $job_pids | tr ' ' '\n' | sort -u | tr '\n' ' ')
leftovers() {
  local left p
  left=$(pgrep -f -- "$work" | tr '\n' ' ')
  for p in $job_pids; do [ -e "/proc/$p" ] && left="$left $p"; done
  echo $left | tr ' ' '\n' | sort -u | tr '\n' ' '
}
waited=0
left=$(leftovers)
while [ -n "${left// /}" ] && [ "$waited" -lt 50 ]; do
  sleep 0.1
  waited=$((waited + 1))
  left=$(leftovers)
done
if [ -n "${left// /}" ]; then
  for p in $left; do echo "left behind: $(cut -d' ' -f1-4 "/proc/$p/stat" 2>/dev/null)" >&2; done
  for p in $left; do kill -KILL "$p" 2>/dev/null; done
  fail "processes of the job were still there 5 s after it ended: $left"
fi
echo "kill_rank: none of the job's $(echo $job_pids | wc -w) processes is left ($((waited * 100)) ms after its end)" >&2
echo "---- stderr of the job ----" >&2
cat "$work/err" >&2
echo "kill_rank: OK" >&2

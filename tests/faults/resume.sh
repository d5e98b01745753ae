#!/usr/bin/env bash
# --resume after a SIGKILL continues the uninterrupted run's curve bit for bit (float64).
#   resume.sh STRATEGY NP PYTHON mixgcn-train [flags...]
# 1. the reference: E epochs uninterrupted (--json full.json);
# 2. the same run with --checkpoint every K epochs, one rank SIGKILLed in epoch KILL
#    (after the checkpoint of epoch K·floor(KILL/K)): must die, the checkpoint must hold
#    that epoch;
# 3. --resume from it to E epochs (--json resumed.json): every epoch's loss and
#    accuracies, the best epoch and the test accuracy equal the reference's exactly.
# Then the rank-count rule (docs/faults.md): a full-graph checkpoint resumes on another
# rank count (same losses to rounding); a data-strategy one is refused, naming both counts.
# NP = 1 runs without mpirun (--strategy single); otherwise mpirun -np NP --comm mpi.
set -u
strategy=$1 np=$2 py=$3 train=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-resume.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
E=16 K=5 KILL=12 victim=$((np - 1))
fail() {
  echo "resume: FAIL: $*" >&2
  exit 1
}
run() {  # run NP flags...: the job, with a bound so a hang cannot outlive the test
  local n=$1
  shift
  if [ "$n" -eq 1 ] && [ "$strategy" = single ]; then
    timeout -k 5 60 "$train" --strategy "$strategy" "$@"
  else
    timeout -k 5 60 "${MPIEXEC:-mpirun}" --oversubscribe -np "$n" "$train" --strategy "$strategy" --comm mpi "$@"
  fi
}
export OMP_NUM_THREADS=1
flags=(--precision double --epochs $E --quiet "$@")

run "$np" "${flags[@]}" --json "$work/full.json" >/dev/null || fail "the uninterrupted run failed"

MIXGCN_DEBUG_KILL_AT="$victim:$KILL" run "$np" "${flags[@]}" --checkpoint "$work/ck" --checkpoint-every $K \
  >/dev/null 2>"$work/killed.err"
rc=$?
cat "$work/killed.err" >&2
[ "$rc" -ne 0 ] || fail "the run with rank $victim killed in epoch $KILL exited 0"
grep -q "rank $victim raises SIGKILL in epoch $KILL" "$work/killed.err" || fail "rank $victim was not killed"
last=$((KILL / K * K))
"${MIXGCN_CHECKPOINT_CHECK:?path of mixgcn_checkpoint_check}" "$work/ck" "$last" || fail "the last checkpoint is not the one of epoch $last"

run "$np" "${flags[@]}" --checkpoint "$work/ck" --checkpoint-every $K --resume "$work/ck" \
  --json "$work/resumed.json" >/dev/null || fail "the resumed run failed"
"$py" "$here/compare_resume.py" "$work/full.json" "$work/resumed.json" "$last" exact || fail "the curves differ"

if [ "$strategy" = data ]; then
  # The batch schedule depends on the rank count: refused, naming both.
  other=$((np == 1 ? 2 : 1))
  out=$(run "$other" "${flags[@]}" --resume "$work/ck" 2>&1)
  rc=$?
  echo "$out" | tail -3 >&2
  [ "$rc" -ne 0 ] || fail "a data checkpoint of $np ranks resumed on $other without an error"
  echo "$out" | grep -q "written with ranks=$np, this run has ranks=$other" ||
    fail "the refusal does not name both rank counts"
elif [ "$strategy" = graph ]; then
  # Replicated parameters, no per-rank state: another rank count resumes the same model.
  other=$((np + 1))
  run "$other" "${flags[@]}" --resume "$work/ck" --json "$work/other.json" >/dev/null ||
    fail "a graph checkpoint of $np ranks did not resume on $other"
  "$py" "$here/compare_resume.py" "$work/full.json" "$work/other.json" "$last" 1e-9 || fail "the curves differ"
fi
echo "resume: OK" >&2

#!/usr/bin/env bash
# A process killed while it writes a checkpoint never leaves the last good checkpoint
# corrupt or missing.
#   checkpoint_kill.sh stop mixgcn-train CHECK [flags...]
#       MIXGCN_DEBUG_CHECKPOINT_STOP kills the writer at each point of its 2nd write
#       (mid-write, after-write = written and fsynced but not renamed, after-rename):
#       the checkpoint then holds the 1st write's epoch (the 2nd's after the rename),
#       loads with a valid checksum, and a resume from it completes.
#   checkpoint_kill.sh random TRIES mixgcn-train CHECK [flags...]
#       TRIES times: start (resuming from the checkpoint when there is one) with a
#       checkpoint every epoch, SIGKILL at a random delay, then the checkpoint must load,
#       its checksum verify, and its epoch must not have gone back.
# CHECK is mixgcn_checkpoint_check (tests/faults/checkpoint_check.cpp).
set -u
mode=$1
shift
tries=1
if [ "$mode" = random ]; then
  tries=$1
  shift
fi
train=$1 check=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/mixgcn-ckkill.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
ck=$work/model.ck
fail() {
  echo "checkpoint_kill: FAIL: $*" >&2
  exit 1
}
epoch_of() { "$check" "$1" | sed -n 's/.*: epoch \([0-9]*\),.*/\1/p'; }
export OMP_NUM_THREADS=1

if [ "$mode" = stop ]; then
  for point in mid-write after-write after-rename; do
    rm -f "$ck" "$ck".tmp.*
    MIXGCN_DEBUG_CHECKPOINT_STOP="$point:2" timeout -k 5 60 "$train" --epochs 10 --checkpoint "$ck" \
      --checkpoint-every 2 --quiet "$@" >/dev/null 2>"$work/err"
    rc=$?
    cat "$work/err" >&2
    [ "$rc" -eq 137 ] || fail "$point: the writer exited with status $rc, not 137 (SIGKILL)"
    grep -q "SIGKILL at checkpoint write 2, $point" "$work/err" || fail "$point: the hook did not fire"
    want=2
    [ "$point" = after-rename ] && want=4
    "$check" "$ck" "$want" || fail "$point: the last good checkpoint (epoch $want) does not load"
    tmp=$(ls "$ck".tmp.* 2>/dev/null)
    case $point in
      mid-write)
        [ -n "$tmp" ] || fail "mid-write: no temp file left (the hook fired elsewhere?)"
        if "$check" "$tmp" >/dev/null 2>&1; then fail "mid-write: the half-written temp file loads"; fi ;;
      after-write)
        [ -n "$tmp" ] || fail "after-write: no temp file left (the hook fired after the rename?)"
        "$check" "$tmp" 4 || fail "after-write: the complete temp file does not load" ;;
      after-rename)
        [ -z "$tmp" ] || fail "after-rename: a temp file is left: $tmp" ;;
    esac
    timeout -k 5 60 "$train" --epochs 10 --checkpoint "$ck" --checkpoint-every 2 --resume "$ck" --quiet "$@" \
      >/dev/null || fail "$point: the resume from the last good checkpoint failed"
    "$check" "$ck" 10 || fail "$point: the resumed run did not write its final checkpoint"
  done
  echo "checkpoint_kill: OK (mid-write, after-write, after-rename)" >&2
  exit 0
fi

# Random kills. Each try resumes from the last good checkpoint, so it must always be there.
timeout -k 5 60 "$train" --epochs 1 --checkpoint "$ck" --checkpoint-every 1 --quiet "$@" >/dev/null ||
  fail "the first checkpoint could not be written"
prev=$(epoch_of "$ck")
litter=0 writes=0
for ((t = 1; t <= tries; t++)); do
  delay=$(printf '0.%03d' $((200 + RANDOM % 700)))
  "$train" --epochs 1000000 --checkpoint "$ck" --checkpoint-every 1 --resume "$ck" --quiet "$@" \
    >/dev/null 2>"$work/err" &
  pid=$!
  sleep "$delay"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  [ "$rc" -eq 137 ] || { cat "$work/err" >&2; fail "try $t: the writer ended with status $rc before the kill"; }
  "$check" "$ck" >"$work/check" 2>&1 || { cat "$work/check" >&2; fail "try $t (killed after ${delay} s): the checkpoint does not load"; }
  e=$(epoch_of "$ck")
  [ "$e" -ge "$prev" ] || fail "try $t: the checkpoint went back from epoch $prev to $e"
  writes=$((writes + e - prev))
  if ls "$ck".tmp.* >/dev/null 2>&1; then
    litter=$((litter + 1))  # killed between creating the temp file and renaming it
    rm -f "$ck".tmp.*
  fi
  prev=$e
done
echo "checkpoint_kill: OK: $tries kills at random delays; the checkpoint always loaded (epoch $prev, $writes" \
  "writes completed); $litter kills landed inside a write (temp file left, last good checkpoint intact)" >&2

#!/usr/bin/env bash
# Passes when a command FAILS the way a faulty job must: a non-zero exit, before
# SECONDS run out (a timeout means some rank hung), with stderr matching PATTERN
# (grep -E), e.g. the failing rank's name.
#   expect_fault.sh SECONDS PATTERN command args...
set -u
limit=$1
pattern=$2
shift 2
err=$(mktemp "${TMPDIR:-/tmp}/mixgcn-fault.XXXXXX") || exit 2
trap 'rm -f "$err"' EXIT
start=$(date +%s)
timeout -k 5 "$limit" "$@" 2> >(tee "$err" >&2)
rc=$?
wait
elapsed=$(($(date +%s) - start))
echo "expect_fault: exit status $rc after ${elapsed}s" >&2
if [ "$rc" -eq 0 ]; then
  echo "expect_fault: FAIL: the job exited 0 although a rank failed" >&2
  exit 1
fi
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "expect_fault: FAIL: the job did not end within ${limit}s (a rank hung)" >&2
  exit 1
fi
if ! grep -Eq "$pattern" "$err"; then
  echo "expect_fault: FAIL: stderr does not match '$pattern'" >&2
  exit 1
fi
echo "expect_fault: OK" >&2

#!/usr/bin/env bash
# Runs smbtorture (Samba's SMB conformance suite, Debian samba-testsuite) suites against an SMB
# server on 127.0.0.1 and prints how many tests of each suite passed.
#
#   ci/smbtorture.sh PORT SHARE USER PASS OUTDIR SUITE...
#   e.g. ci/smbtorture.sh 4455 share dittofs dittofs-test /tmp/st smb2.read smb2.credits
#
# Per suite it writes OUTDIR/SUITE.out (smbtorture's subunit output, test names in full:
# smb2.read.eof) and OUTDIR/SUITE.results (one line per finished test: `success NAME`,
# `failure NAME`, `error NAME`, `skip NAME`, xfail/uxsuccess as smbtorture says), then
# prints the table `suite passed/total skipped` (total = passed + failed + errors; skips
# are not counted, as Samba's selftest does not). OUTDIR/summary.tsv holds the same table.
#
# Each suite gets $SMBTORTURE_TIMEOUT seconds (default 300): a server that hangs makes the
# suite fail (its unfinished tests count as errors) instead of hanging CI. Extra smbtorture
# arguments come from $SMBTORTURE_ARGS (word-split), e.g. "--option=torture:sharedelay=100000".
#
# Exit status: 0 when every suite ran to completion (whatever its failures: comparing counts
# is the caller's job), 1 when a suite timed out or smbtorture could not run, 2 on bad usage.
set -euo pipefail
die() { echo "ci/smbtorture.sh: $*" >&2; exit 2; }

(($# >= 6)) || die "usage: ci/smbtorture.sh PORT SHARE USER PASS OUTDIR SUITE..."
port="$1" share="$2" user="$3" pass="$4" out="$5"
shift 5
command -v smbtorture >/dev/null \
  || die "smbtorture not found: install Debian's samba-testsuite (ci/setup.sh installs it)"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
limit="${SMBTORTURE_TIMEOUT:-300}"
read -r -a extra <<<"${SMBTORTURE_ARGS:-}"
mkdir -p "$out"
# The credentials in a file (-A), not on a command line every process can read.
auth="$out/credentials"
(umask 077 && printf 'username=%s\npassword=%s\n' "$user" "$pass" >"$auth")

status=0
printf '%-36s %9s %8s\n' suite passed/total skipped
: >"$out/summary.tsv"
for suite in "$@"; do
  raw="$out/$suite.out"
  # --fullname: names carry the suite (smb2.read.eof), as the known-failures lists do.
  # Kerberos off: the servers under test have no KDC, NTLM it is.
  set +e
  timeout --kill-after=10 "$limit" smbtorture "//127.0.0.1/$share" -p "$port" \
    -A "$auth" --use-kerberos=off --format=subunit --fullname \
    --option="client min protocol=SMB2_02" \
    "${extra[@]}" "$suite" >"$raw" 2>&1 </dev/null
  rc=$?
  set -e
  # subunit v1: `test: NAME` starts a test, `success|failure|error|skip|xfail|uxsuccess: NAME`
  # ends it (details in a following `[ ... ]` block, which never starts with those words).
  awk '
    /^test: / { started[substr($0, 7)] = 1; order[++n] = substr($0, 7); next }
    match($0, /^(success|successful|failure|fail|error|skip|xfail|uxsuccess): /) {
      kind = substr($0, 1, RLENGTH - 2); name = substr($0, RLENGTH + 1)
      sub(/ \[$/, "", name); sub(/ \[ *multipart$/, "", name)
      if (kind == "successful") kind = "success"
      if (kind == "fail") kind = "failure"
      print kind, name; done[name] = 1
    }
    END { for (i = 1; i <= n; i++) if (!(order[i] in done)) print "error", order[i] }
  ' "$raw" >"$out/$suite.results"
  passed=$(awk '$1 == "success" || $1 == "xfail"' "$out/$suite.results" | wc -l)
  failed=$(awk '$1 == "failure" || $1 == "error" || $1 == "uxsuccess"' "$out/$suite.results" | wc -l)
  skipped=$(awk '$1 == "skip"' "$out/$suite.results" | wc -l)
  note=""
  if ((rc == 124 || rc == 137)); then
    note="  TIMED OUT after ${limit}s"
    status=1
  elif ((passed + failed + skipped == 0)); then
    # Nothing ran: connection refused, logon failure, unknown suite. Show why.
    note="  NO TESTS RAN (smbtorture exit $rc): $(grep -v '^time:' "$raw" | tail -n 3 | tr '\n' ' ')"
    status=1
  fi
  printf '%-36s %9s %8s%s\n' "$suite" "$passed/$((passed + failed))" "$skipped" "$note"
  printf '%s\t%s\t%s\t%s\t%s\n' "$suite" "$passed" "$((passed + failed))" "$skipped" "$rc" \
    >>"$out/summary.tsv"
done
exit "$status"

#!/usr/bin/env bash
# The SMB half of the comparative benchmark (benches/compare.sh runs it after the NFS half):
# the DittoFS workload set over SMB 3.1.1, driven from the host by smbclient (Samba's own
# client, nobody here wrote it), against Samba's smbd on loopback (ci/samba.sh), the median of
# RUNS runs and smbd's peak RSS. dittofs has no SMB adapter yet, so its column says so; when
# the adapter lands it is started here like ganesha is in compare.sh.
#
#   benches/smb.sh            # RUNS=3, 1 GiB sequential file, 10,000 small files
#   QUICK=1 benches/smb.sh    # 64 MiB, 1,000 files
#
# smbclient runs one request at a time per connection, so these figures measure latency-bound
# single-client throughput, not what smbd can do for many clients; smbtorture's smb2.bench.echo
# with 32 connections adds the many-client request rate (the mean of its per-second counts). smbclient has no fsync: sequential
# writes end with the close, which Samba answers before its data reaches the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
if [[ -n "${QUICK:-}" ]]; then seq_mib=64 big=64 files=1000; else seq_mib=1024 big=256 files=10000; fi
say() { printf '== %s\n' "$*" >&2; }
for tool in smbclient smbtorture smbd; do
  command -v "$tool" >/dev/null || { say "$tool not found: apt-get install samba smbclient samba-testsuite"; exit 1; }
done

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/dittofs-smb.XXXXXX")"
# smbd serves the share as the Samba user, who must be able to reach it.
chmod 755 "$work"
sampler=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null
  ci/samba.sh stop "$work/samba" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'say "benches/smb.sh: failed at line $LINENO: $BASH_COMMAND"' ERR

say "making the local data: $seq_mib MiB file, $big x 1 MiB files, $files small files"
mkdir -p "$work/src/big" "$work/src/small"
head -c "$((seq_mib << 20))" /dev/urandom >"$work/src/seq.bin"
for i in $(seq 1 "$big"); do head -c 1048576 /dev/urandom >"$work/src/big/f$i"; done
for i in $(seq 1 "$files"); do echo "small file $i" >"$work/src/small/s$i"; done
for i in $(seq 1 "$files"); do echo "allinfo s$i"; done >"$work/stat.cmds"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
smb() { smbclient "//127.0.0.1/share" -p "$port" -U dittofs%dittofs-test -m SMB3 "$@"; }
now() { echo "$EPOCHREALTIME"; }
# timed NAME UNIT AMOUNT COMMAND...: runs COMMAND, prints "NAME AMOUNT/seconds UNIT" (or the
# seconds themselves when UNIT is s).
timed() {
  local name="$1" unit="$2" amount="$3" t0 t1
  shift 3
  t0="$(now)"
  "$@" >"$work/last.log" 2>&1 || { say "$name failed:"; cat "$work/last.log" >&2; return 1; }
  t1="$(now)"
  awk -v n="$name" -v u="$unit" -v a="$amount" -v t0="$t0" -v t1="$t1" \
    'BEGIN { d = t1 - t0; if (u == "s") printf "%s %.4f s\n", n, d; else printf "%s %.4f %s\n", n, a / d, u }'
}

results="$work/results"
: >"$results"
for run in $(seq 1 "$RUNS"); do
  say "run $run/$RUNS: Samba $(smbd --version | cut -d' ' -f2)"
  ci/samba.sh stop "$work/samba" 2>/dev/null || true
  rm -rf "$work/samba"
  ci/samba.sh start "$work/samba" "$port" >&2
  # Peak RSS of all smbd processes together (smbd forks one per client), sampled every 0.1 s.
  (
    set +e # a process may exit between pgrep and the read of its status
    peak=0
    while :; do
      sum=$(for p in $(pgrep -x smbd); do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }')
      ((sum > peak)) && peak=$sum && echo "$peak" >"$work/peak"
      sleep 0.1
    done
  ) &
  sampler=$!
  {
    timed create-1m files/s "$big" smb -c "lcd $work/src/big; mkdir big; cd big; prompt off; mput *"
    timed seq-write MB/s "$((seq_mib * 1048576 / 1000000))" smb -c "lcd $work/src; put seq.bin"
    timed seq-read MB/s "$((seq_mib * 1048576 / 1000000))" smb -c "get seq.bin /dev/null"
    timed small-create ops/s "$files" smb -c "lcd $work/src/small; mkdir small; cd small; prompt off; mput *"
    timed small-stat ops/s "$files" smb -D small <"$work/stat.cmds"
    timed ls s 1 smb -D small -c "ls"
    timed small-delete ops/s "$files" smb -D small -c "del s*"
    # Many clients: 32 connections sending SMB2 ECHO for 10 s (smbtorture's own count).
    echo "echo-32conns $(smbtorture "//127.0.0.1/share" -p "$port" -U dittofs%dittofs-test \
      --option=torture:nprocs=32 --option=torture:timelimit=10 smb2.bench.echo 2>&1 \
      | grep -o 'num/s=[0-9]*' | cut -d= -f2 | awk '{ s += $1; n++ } END { print n ? s / n : 0 }') ops/s"
  } | awk '{ print "samba", $0 }' >>"$results"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  sampler=""
  echo "samba peak-rss $(($(cat "$work/peak" 2>/dev/null || echo 0) / 1024)) MiB" >>"$results"
  ci/samba.sh stop "$work/samba"
done

echo
echo "| SMB workload | unit | dittofs | Samba | dittofs/Samba |"
echo "| --- | --- | ---: | ---: | ---: |"
awk '
  { key = $2; vals[key] = vals[key] " " $3; unit[key] = $4; if (!(key in seen)) { seen[key] = 1; order[++n] = key } }
  function median(list,   a, k, i, j, t) {
    k = split(list, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END { for (i = 1; i <= n; i++) printf "| %s | %s | adapter not built yet | %.4g | - |\n", order[i], unit[order[i]], median(vals[order[i]]) }
' "$results"
echo
echo "Median of $RUNS runs; SMB 3.1.1 from smbclient/smbtorture on the same host."

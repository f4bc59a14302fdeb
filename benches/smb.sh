#!/usr/bin/env bash
# The SMB half of the comparative benchmark (benches/compare.sh runs it after the NFS half):
# the DittoFS workload set over SMB 3.1.1, driven from the host by smbclient (Samba's own
# client, nobody here wrote it), against dittofs (release binary, RocksDB metadata +
# filesystem content, SMB on loopback) and Samba's smbd on loopback (ci/samba.sh), servers
# alternating run by run, the median of RUNS runs, the ratio dittofs/Samba and each server's
# peak RSS.
#
#   benches/smb.sh                   # RUNS=3, 1 GiB sequential file, 10,000 small files
#   QUICK=1 benches/smb.sh           # 64 MiB, 1,000 files
#   SKIP_DITTOFS=1 benches/smb.sh    # Samba only (the dittofs column says "skipped")
#   DITTOFS_BIN=path benches/smb.sh  # that binary; default $CARGO_TARGET_DIR/release/dittofs,
#                                    # built (cargo build --release) only when missing
#
# smbclient runs one request at a time per connection, so these figures measure latency-bound
# single-client throughput, not what a server can do for many clients; smbtorture's
# smb2.bench.echo with 32 connections adds the many-client request rate (the mean of its
# per-second counts). smbclient has no fsync: sequential writes end with the close, which the
# server may answer before its data reaches the disk. A workload that fails on one server is
# reported as "failed" in its column (with the client's output on stderr); the others still run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
if [[ -n "${QUICK:-}" ]]; then seq_mib=64 big=64 files=1000; else seq_mib=1024 big=256 files=10000; fi
say() { printf '== %s\n' "$*" >&2; }
for tool in smbclient smbtorture smbd; do
  command -v "$tool" >/dev/null || { say "$tool not found: apt-get install samba smbclient samba-testsuite"; exit 1; }
done

if [[ -z "${SKIP_DITTOFS:-}" ]]; then
  dittofs="${DITTOFS_BIN:-${CARGO_TARGET_DIR:-target}/release/dittofs}"
  if [[ ! -x "$dittofs" ]]; then
    [[ -z "${DITTOFS_BIN:-}" ]] || { say "DITTOFS_BIN=$DITTOFS_BIN is not an executable"; exit 1; }
    say "building dittofs (release): $dittofs is missing"
    cargo build --release --locked -p actors --bin dittofs >&2
  fi
  servers=(dittofs samba)
else
  servers=(samba)
fi

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/dittofs-smb.XXXXXX")"
# smbd serves the share as the Samba user, who must be able to reach it.
chmod 755 "$work"
sampler="" server_pid="" samba_dir=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$samba_dir" ]] && ci/samba.sh stop "$samba_dir" 2>/dev/null
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  say "server did not listen on $1"
  return 1
}

# Both servers: share $share on 127.0.0.1:$port, user dittofs, password dittofs-test.
user=dittofs pass=dittofs-test
# start_SERVER DIR: starts the server on fresh data in DIR; sets port, share and server_pid
# (dittofs) or samba_dir (smbd forks one process per client; the sampler sums them).
start_dittofs() {
  local d="$1" nfs_port
  port="$(free_port)" nfs_port="$(free_port)" share=export
  cat >"$d/config.yaml" <<EOF
server: { state_dir: $d/state }
metadata: { stores: { default: { type: rocksdb, path: $d/meta } } }
content: { stores: { default: { type: filesystem, path: $d/content } } }
shares:
  - { name: /export, metadata_store: default, content_store: default, allowed_clients: [] }
adapters: { nfs: { port: $nfs_port, portmapper: { enabled: false } }, smb: { enabled: true, port: $port } }
logging: { level: warn }
EOF
  printf '%s\n' "$pass" | "$dittofs" --config "$d/config.yaml" user add "$user" \
    --uid "$(id -u)" --gid "$(id -g)" --password-stdin >&2
  "$dittofs" --config "$d/config.yaml" start 2>"$d/server.log" &
  server_pid=$!
  wait_port "$port" || { cat "$d/server.log" >&2; return 1; }
}
stop_dittofs() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
start_samba() {
  local d="$1"
  port="$(free_port)" share=share samba_dir="$d/samba"
  SAMBA_USER="$user" SAMBA_PASS="$pass" ci/samba.sh start "$samba_dir" "$port" >&2
  samba_dir="$(cd "$samba_dir" && pwd)" # as on smbd's command line, which the sampler matches
}
stop_samba() {
  ci/samba.sh stop "$samba_dir"
  samba_dir=""
}
# peak_rss_SERVER: the server's peak RSS so far, in KiB.
peak_rss_dittofs() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }
peak_rss_samba() { cat "$work/peak" 2>/dev/null || echo 0; }

smb() { smbclient "//127.0.0.1/$share" -p "$port" -U "$user%$pass" -m SMB3 "$@"; }
now() { echo "$EPOCHREALTIME"; }
# timed NAME UNIT AMOUNT COMMAND...: runs COMMAND, prints "NAME AMOUNT/seconds UNIT" (or the
# seconds themselves when UNIT is s); "NAME failed UNIT" when COMMAND fails (its output on
# stderr). smbclient exits 0 after some failed commands, so its output is checked for NT_STATUS.
timed() {
  local name="$1" unit="$2" amount="$3" t0 t1
  shift 3
  t0="$(now)"
  if ! "$@" >"$work/last.log" 2>&1 || grep -q 'NT_STATUS_' "$work/last.log"; then
    say "$name failed against $server:"
    tail -n 20 "$work/last.log" >&2
    echo "$name failed $unit"
    return 0
  fi
  t1="$(now)"
  awk -v n="$name" -v u="$unit" -v a="$amount" -v t0="$t0" -v t1="$t1" \
    'BEGIN { d = t1 - t0; if (u == "s") printf "%s %.4f s\n", n, d; else printf "%s %.4f %s\n", n, a / d, u }'
}
# The workload set against the running server ($port, $share).
workloads() {
  timed create-1m files/s "$big" smb -c "lcd $work/src/big; mkdir big; cd big; prompt off; mput *"
  timed seq-write MB/s "$((seq_mib * 1048576 / 1000000))" smb -c "lcd $work/src; put seq.bin"
  timed seq-read MB/s "$((seq_mib * 1048576 / 1000000))" smb -c "get seq.bin /dev/null"
  timed small-create ops/s "$files" smb -c "lcd $work/src/small; mkdir small; cd small; prompt off; mput *"
  timed small-stat ops/s "$files" smb -D small <"$work/stat.cmds"
  timed ls s 1 smb -D small -c "ls"
  timed small-delete ops/s "$files" smb -D small -c "del s*"
  # Many clients: 32 connections sending SMB2 ECHO for 10 s (smbtorture's own count).
  local rate
  rate="$(smbtorture "//127.0.0.1/$share" -p "$port" -U "$user%$pass" \
    --option=torture:nprocs=32 --option=torture:timelimit=10 smb2.bench.echo 2>&1 \
    | grep -o 'num/s=[0-9]*' | cut -d= -f2 | awk '{ s += $1; n++ } END { if (n) print s / n }')" || true
  echo "echo-32conns ${rate:-failed} ops/s"
}

results="$work/results"
: >"$results"
for run in $(seq 1 "$RUNS"); do
  order=("${servers[@]}")
  ((run % 2 == 0 && ${#servers[@]} == 2)) && order=(samba dittofs)
  for server in "${order[@]}"; do
    d="$work/$server.$run"
    mkdir -p "$d"
    chmod 755 "$d"
    if [[ $server == samba ]]; then
      say "run $run/$RUNS: Samba $(smbd --version | cut -d' ' -f2)"
    else
      say "run $run/$RUNS: dittofs ($dittofs)"
    fi
    "start_$server" "$d"
    rm -f "$work/peak"
    if [[ $server == samba ]]; then
      # Peak RSS of this Samba's smbd processes together (smbd forks one per client: they all
      # carry its smb.conf on their command line), sampled every 0.1 s.
      (
        set +e # a process may exit between pgrep and the read of its status
        peak=0
        while :; do
          sum=$(for p in $(pgrep -f -- "-s $samba_dir/smb.conf"); do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }')
          ((sum > peak)) && peak=$sum && echo "$peak" >"$work/peak"
          sleep 0.1
        done
      ) &
      sampler=$!
    fi
    workloads | awk -v s="$server" '{ print s, $0 }' >>"$results"
    rss_kib="$("peak_rss_$server")"
    if [[ -n "$sampler" ]]; then
      kill "$sampler" 2>/dev/null || true
      wait "$sampler" 2>/dev/null || true
      sampler=""
      rss_kib="$(peak_rss_samba)"
    fi
    echo "$server peak-rss $((rss_kib / 1024)) MiB" >>"$results"
    "stop_$server"
    rm -rf "$d"
  done
done

# Median per server and workload ("failed" when any run failed), then the table with the ratio.
echo
echo "| SMB workload | unit | dittofs | Samba | dittofs/Samba |"
echo "| --- | --- | ---: | ---: | ---: |"
awk -v skipped="${SKIP_DITTOFS:+1}" '
  { key = $1 SUBSEP $2; vals[key] = vals[key] " " $3; unit[$2] = $4
    if ($3 !~ /^[0-9.]+$/) bad[key] = 1
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  function median(list,   a, k, i, j, t) {
    k = split(list, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  function cell(s, w,   key) {
    key = s SUBSEP w
    if (!(key in vals)) return (s == "dittofs" && skipped) ? "skipped" : "-"
    return (key in bad) ? "failed" : sprintf("%.4g", median(vals[key]))
  }
  END {
    for (i = 1; i <= n; i++) {
      w = order[i]; d = cell("dittofs", w); g = cell("samba", w)
      r = (d ~ /^[0-9.e+-]+$/ && g ~ /^[0-9.e+-]+$/ && g + 0 > 0) ? sprintf("%.2fx", d / g) : "-"
      name = (w == "peak-rss") ? "peak RSS (dittofs; all smbd)" : w
      printf "| %s | %s | %s | %s | %s |\n", name, unit[w], d, g, r
    }
  }' "$results"
echo
echo "Median of $RUNS runs; SMB 3.1.1 from smbclient/smbtorture on the same host. For \`s\` and MiB rows lower is better."

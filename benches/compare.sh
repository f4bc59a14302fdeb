#!/usr/bin/env bash
# The comparative benchmark: dittofs against NFS-Ganesha (NFSv3, VFS FSAL) on this machine,
# the same workloads from the same host-side load generator (benches/src/bin/nfsbench.rs,
# built on the nfs3_client crate), servers alternating run by run, the median of RUNS runs,
# ratios dittofs/Ganesha, and each server's peak RSS (VmHWM).
#
#   benches/compare.sh            # the full set: RUNS=3, 1 GiB sequential file, 10,000 files
#   QUICK=1 benches/compare.sh    # a smoke-sized run (64 MiB, 1,000 files, 3 s random I/O)
#   SKIP_SMB=1 benches/compare.sh # the NFS half only
#
# Then benches/smb.sh: the SMB workloads against dittofs (the release binary built here) and
# Samba; SKIP_DITTOFS=1 passes through to run them against Samba only.
# Needs root (it installs nfs-ganesha, nfs-ganesha-vfs and rpcbind when missing and starts
# rpcbind, which Ganesha must register with). Everything listens on 127.0.0.1 only. Data
# lives under ${BENCH_DIR:-/var/tmp} (a real disk, not tmpfs), removed afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
CONNS="${CONNS:-32}"
if [[ -n "${QUICK:-}" ]]; then
  sizes=(--seq-mib 64 --big-files 64 --files 1000 --seconds 3)
else
  sizes=(--seq-mib 1024 --big-files 256 --files 10000 --seconds 10)
fi
say() { printf '== %s\n' "$*" >&2; }

need=()
for p in nfs-ganesha nfs-ganesha-vfs rpcbind samba smbclient samba-testsuite; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if ((${#need[@]})); then
  say "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
  say "starting rpcbind (NFS-Ganesha registers with it)"
  rpcbind -w
fi

say "building dittofs and nfsbench (release)"
cargo build --release --locked -p actors --bin dittofs -p benches --bin nfsbench >&2
target="${CARGO_TARGET_DIR:-target}"
dittofs="$target/release/dittofs"
nfsbench="$target/release/nfsbench"

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/dittofs-bench.XXXXXX")"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server did not listen on $1" >&2
  return 1
}

# start_SERVER DIR: starts the server on fresh data in DIR; sets server_pid, nfs_port, mount_port.
start_dittofs() {
  local d="$1"
  nfs_port="$(free_port)" mount_port="$nfs_port"
  cat >"$d/config.yaml" <<EOF
server: { state_dir: $d/state }
metadata: { stores: { default: { type: rocksdb, path: $d/meta } } }
content: { stores: { default: { type: filesystem, path: $d/content } } }
shares:
  - { name: /export, metadata_store: default, content_store: default }
adapters: { nfs: { port: $nfs_port, portmapper: { enabled: false } } }
logging: { level: warn }
EOF
  "$dittofs" --config "$d/config.yaml" start 2>"$d/server.log" &
  server_pid=$!
  wait_port "$nfs_port"
}
start_ganesha() {
  local d="$1"
  nfs_port="$(free_port)" mount_port="$(free_port)"
  mkdir -p "$d/export"
  cat >"$d/ganesha.conf" <<EOF
NFS_CORE_PARAM {
  NFS_Port = $nfs_port; MNT_Port = $mount_port; Bind_addr = 127.0.0.1;
  Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; Mount_Path_Pseudo = true;
}
NFS_KRB5 { Active_krb5 = false; }
NFSV4 { Graceless = true; }
EXPORT {
  Export_Id = 1; Path = $d/export; Pseudo = /export; Access_Type = RW;
  Squash = No_Root_Squash; Protocols = 3; Transports = TCP; SecType = sys;
  FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
EOF
  ganesha.nfsd -F -f "$d/ganesha.conf" -L "$d/server.log" -p "$d/ganesha.pid" &
  server_pid=$!
  wait_port "$mount_port"
  wait_port "$nfs_port"
}

results="$work/results"
: >"$results"
for run in $(seq 1 "$RUNS"); do
  order=(dittofs ganesha)
  ((run % 2 == 0)) && order=(ganesha dittofs)
  for s in "${order[@]}"; do
    d="$work/$s.$run"
    mkdir -p "$d"
    say "run $run/$RUNS: $s"
    "start_$s" "$d"
    out="$("$nfsbench" --nfs-port "$nfs_port" --mount-port "$mount_port" --conns "$CONNS" \
      "${sizes[@]}" --dir "run$run")" || { cat "$d/server.log" >&2; exit 1; }
    echo "$out" | awk -v s="$s" '$1 == "RESULT" { print s, $2, $3, $4 }' >>"$results"
    hwm_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")"
    echo "$s peak-rss $((hwm_kb / 1024)) MiB" >>"$results"
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
    rm -rf "$d"
  done
done

# Median per server and workload, then the table with the ratio.
echo
echo "| workload | unit | dittofs | NFS-Ganesha | dittofs/Ganesha |"
echo "| --- | --- | ---: | ---: | ---: |"
awk '
  { key = $1 SUBSEP $2; vals[key] = vals[key] " " $3; unit[$2] = $4
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  function median(list,   a, k, i, j, t) {
    k = split(list, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    for (i = 1; i <= n; i++) {
      w = order[i]; d = median(vals["dittofs" SUBSEP w]); g = median(vals["ganesha" SUBSEP w])
      r = (g > 0) ? sprintf("%.2fx", d / g) : "-"
      printf "| %s | %s | %.4g | %.4g | %s |\n", w, unit[w], d, g, r
    }
  }' "$results"
echo
echo "Median of $RUNS runs, $CONNS connections, sizes: ${sizes[*]}. For \`s\` and MiB rows lower is better."

# The SMB half: the same workload set over SMB against dittofs and Samba, with the binary built
# above. SKIP_SMB=1 leaves it out.
[[ -n "${SKIP_SMB:-}" ]] || DITTOFS_BIN="$dittofs" benches/smb.sh

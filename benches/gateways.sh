#!/usr/bin/env bash
# The storage benchmark of issue 12: the same NFSv3 workloads (benches/src/bin/nfsbench.rs) on
# dittofs with different stores and gateway counts, in one run, configurations alternating run
# by run, medians of RUNS runs:
#
#   rocksdb-fs   RocksDB metadata + filesystem content (the embedded default)
#   rocksdb-s3   RocksDB metadata + S3 content            (S3 vs filesystem)
#   pg-fs        PostgreSQL metadata + filesystem content (PostgreSQL vs RocksDB)
#   pg-s3        PostgreSQL + S3, one gateway
#   pg-s3-x2     PostgreSQL + S3, two gateways (connections split between them)
#
#   benches/gateways.sh             # RUNS=3, 256 MiB sequential file, 2,000 small files
#   QUICK=1 benches/gateways.sh     # smoke-sized
#   CONFIGS="pg-fs rocksdb-fs" benches/gateways.sh
#
# The S3 server is moto (`moto_server`, in memory, installed by ci/setup.sh); the PostgreSQL
# server is a throwaway one from Debian's postgresql package (initdb + pg_ctl in a temp
# directory, as the postgres user when run as root). Both are started fresh for every run and
# listen on 127.0.0.1 only. moto is a Python process, much slower than a real S3 service, so
# rows that must reach the bucket before they answer (COMMIT of new data) measure moto as much
# as dittofs; cached reads do not touch it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
CONNS="${CONNS:-16}"
CONFIGS="${CONFIGS:-rocksdb-fs rocksdb-s3 pg-fs pg-s3 pg-s3-x2}"
if [[ -n "${QUICK:-}" ]]; then
  sizes=(--seq-mib 32 --big-files 32 --files 300 --seconds 2)
else
  sizes=(--seq-mib 256 --big-files 64 --files 2000 --seconds 5)
fi
say() { printf '== %s\n' "$*" >&2; }

command -v moto_server >/dev/null || { echo "benches/gateways.sh: moto_server missing: run ci/setup.sh" >&2; exit 1; }
pgbin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$pgbin/initdb" ]] || { echo "benches/gateways.sh: no initdb: apt-get install postgresql" >&2; exit 1; }

say "building dittofs and nfsbench (release)"
cargo build --release --locked -p actors --bin dittofs -p benches --bin nfsbench >&2
target="${CARGO_TARGET_DIR:-target}"
dittofs="$(realpath "$target/release/dittofs")"
nfsbench="$(realpath "$target/release/nfsbench")"

work="$(mktemp -d "${BENCH_DIR:-/var/tmp}/dittofs-gw-bench.XXXXXX")"
chmod 755 "$work"
pids=()
pg_data=""
as_pg() { if [[ $EUID -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  pids=()
  if [[ -n "$pg_data" ]]; then
    as_pg "$pgbin/pg_ctl" -D "$pg_data" -m immediate stop >/dev/null 2>&1 || true
    pg_data=""
  fi
}
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on $1" >&2
  return 1
}

# start_pg DIR: a fresh PostgreSQL in DIR/pg; sets pg_url.
start_pg() {
  local d="$1" port
  port="$(free_port)"
  pg_data="$d/pg"
  mkdir -p "$pg_data"
  [[ $EUID -eq 0 ]] && chown postgres "$pg_data"
  as_pg "$pgbin/initdb" -D "$pg_data" -U postgres --auth=trust -E UTF8 >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$pg_data" -l "$pg_data/log" -w \
    -o "-h 127.0.0.1 -p $port -k '' -c fsync=on -c max_connections=200" start >/dev/null
  pg_url="postgres://postgres@127.0.0.1:$port/postgres"
}
# start_s3 DIR: a fresh moto server; sets s3_port.
start_s3() {
  local d="$1"
  s3_port="$(free_port)"
  moto_server -H 127.0.0.1 -p "$s3_port" >"$d/moto.log" 2>&1 &
  pids+=($!)
  wait_port "$s3_port"
}
# gateway DIR META CONTENT: starts one dittofs on the given store YAML; prints its port.
gateway() {
  local d="$1" meta="$2" content="$3" port
  port="$(free_port)"
  mkdir -p "$d"
  cat >"$d/config.yaml" <<EOF
server: { state_dir: $d/state }
metadata: { stores: { default: $meta } }
content: { stores: { default: $content } }
shares:
  - { name: /export, metadata_store: default, content_store: default }
adapters: { nfs: { port: $port, portmapper: { enabled: false } } }
logging: { level: warn }
EOF
  chmod 600 "$d/config.yaml"
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
    "$dittofs" --config "$d/config.yaml" start 2>"$d/server.log" &
  pids+=($!)
  wait_port "$port" || { cat "$d/server.log" >&2; return 1; }
  gw_ports+=("$port")
}

# start_config NAME DIR: the stores and gateways of configuration NAME; sets gw_ports.
start_config() {
  local name="$1" d="$2" meta content n=1
  gw_ports=()
  case "$name" in
    rocksdb-*) meta="{ type: rocksdb, rocksdb: { path: $d/meta } }" ;;
    pg-*) start_pg "$d"; meta="{ type: postgres, postgres: { url: '$pg_url', max_connections: 32 } }" ;;
  esac
  case "$name" in
    *-fs*) content="{ type: filesystem, filesystem: { path: $d/content } }" ;;
    *-s3*)
      start_s3 "$d"
      content="{ type: s3, s3: { bucket: bench, endpoint: 'http://127.0.0.1:$s3_port', force_path_style: true, create_bucket: true, cache_size: 2GiB } }"
      ;;
  esac
  [[ "$name" == *-x2 ]] && n=2
  for g in $(seq 1 "$n"); do
    gateway "$d/gw$g" "$meta" "$content"
  done
}

results="$work/results"
: >"$results"
read -r -a configs <<<"$CONFIGS"
for run in $(seq 1 "$RUNS"); do
  order=("${configs[@]}")
  if ((run % 2 == 0)); then
    order=()
    for ((i = ${#configs[@]} - 1; i >= 0; i--)); do order+=("${configs[i]}"); done
  fi
  for c in "${order[@]}"; do
    d="$work/$c.$run"
    mkdir -p "$d"
    say "run $run/$RUNS: $c"
    start_config "$c" "$d"
    extra=()
    for p in "${gw_ports[@]:1}"; do extra+=(--gateway-port "$p"); done
    out="$("$nfsbench" --nfs-port "${gw_ports[0]}" --mount-port "${gw_ports[0]}" --conns "$CONNS" \
      "${extra[@]}" "${sizes[@]}" --dir "run$run")" || {
      tail -n 40 "$d"/gw*/server.log >&2
      exit 1
    }
    echo "$out" | awk -v s="$c" '$1 == "RESULT" { print s, $2, $3, $4 }' >>"$results"
    stop_all
    rm -rf "$d"
  done
done

echo
header="| workload | unit |"
rule="| --- | --- |"
for c in "${configs[@]}"; do header+=" $c |"; rule+=" ---: |"; done
echo "$header"
echo "$rule"
awk -v configs="$CONFIGS" '
  { key = $1 SUBSEP $2; vals[key] = vals[key] " " $3; unit[$2] = $4
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  function median(list,   a, k, i, j, t) {
    k = split(list, a, " ")
    if (k == 0) return -1
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
  }
  END {
    m = split(configs, cs, " ")
    for (i = 1; i <= n; i++) {
      w = order[i]; line = "| " w " | " unit[w] " |"
      for (j = 1; j <= m; j++) {
        v = median(vals[cs[j] SUBSEP w])
        line = line ((v < 0) ? " - |" : sprintf(" %.4g |", v))
      }
      print line
    }
  }' "$results"
echo
echo "Median of $RUNS runs, $CONNS connections, sizes: ${sizes[*]}. For \`s\` rows lower is better."
echo "Ratios: S3/filesystem = rocksdb-s3 / rocksdb-fs; PostgreSQL/RocksDB = pg-fs / rocksdb-fs;"
echo "two gateways / one = pg-s3-x2 / pg-s3."

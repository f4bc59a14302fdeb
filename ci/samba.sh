#!/usr/bin/env bash
# A throwaway Samba (smbd) on the host's loopback: the SMB server the kernel cifs workloads and
# the SMB benchmark run against until dittofs has its SMB adapter.
#
#   ci/samba.sh start DIR PORT   # config, state and the share (DIR/share) under DIR
#   ci/samba.sh stop DIR
#
# The share is //127.0.0.1/share on PORT (from a test VM: //10.0.2.2/share), user
# $SAMBA_USER (default dittofs) with password $SAMBA_PASS (default dittofs-test), NTLMv2,
# SMB 2.0.2 to 3.1.1. Needs root (it adds the Unix user when missing) and Debian's samba.
# $SAMBA_VFS_OBJECTS, when set, becomes the share's `vfs objects` (e.g. "acl_xattr streams_xattr":
# NT ACLs and alternate data streams, which smbtorture's create/getinfo/setinfo suites use).
set -euo pipefail
die() { echo "ci/samba.sh: $*" >&2; exit 1; }
user="${SAMBA_USER:-dittofs}"
vfs="${SAMBA_VFS_OBJECTS:-}"
pass="${SAMBA_PASS:-dittofs-test}"

cmd="${1:-}"; dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: ci/samba.sh start DIR PORT | stop DIR"
case "$cmd" in
start)
  port="${3:-}"
  [[ -n "$port" ]] || die "usage: ci/samba.sh start DIR PORT"
  command -v smbd >/dev/null || die "smbd not found: install samba (ci/setup.sh installs it)"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  mkdir -p "$dir"/{share,private,lock,state,cache,pid,log}
  id "$user" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$user" \
    || die "cannot add Unix user $user (run as root)"
  chown "$user" "$dir/share"
  cat >"$dir/smb.conf" <<EOF
[global]
  server role = standalone server
  smb ports = $port
  interfaces = 127.0.0.1/8
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_02
  server max protocol = SMB3_11
  ntlm auth = ntlmv2-only
  map to guest = never
  private dir = $dir/private
  lock directory = $dir/lock
  state directory = $dir/state
  cache directory = $dir/cache
  pid directory = $dir/pid
  passdb backend = tdbsam:$dir/private/passdb.tdb
  log file = $dir/log/smbd.log
  log level = 1
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  # DOS attributes (read-only, hidden) in xattrs, so they round-trip as on Windows.
  store dos attributes = yes

[share]
  path = $dir/share
  read only = no
  valid users = $user
${vfs:+  vfs objects = $vfs}
EOF
  printf '%s\n%s\n' "$pass" "$pass" | smbpasswd -c "$dir/smb.conf" -s -a "$user" >/dev/null
  # Its own process group: smbd signals its whole group when it stops.
  smbd --foreground -s "$dir/smb.conf" </dev/null >"$dir/log/stdout" 2>&1 &
  echo $! >"$dir/smbd.pid"
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "ci/samba.sh: smbd $(smbd --version | cut -d' ' -f2) on 127.0.0.1:$port, share $dir/share"
      exit 0
    fi
    kill -0 "$(cat "$dir/smbd.pid")" 2>/dev/null || break
    sleep 0.05
  done
  cat "$dir/log/stdout" "$dir/log/smbd.log" >&2 2>/dev/null || true
  die "smbd did not listen on $port"
  ;;
stop)
  [[ -f "$dir/smbd.pid" ]] || exit 0
  pid="$(cat "$dir/smbd.pid")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/smbd.pid"
  ;;
*) die "unknown command $cmd (start or stop)" ;;
esac

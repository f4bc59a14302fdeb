# fcntl and flock locks for the VM workloads (ci/vm/workloads/nlm.sh). Plain perl builtins,
# no modules: the guest has the perl binary only.
#
#   perl lockf.pl FILE setlk  w|r START LEN HOLD   F_SETLK; prints "locked" or "EAGAIN"
#   perl lockf.pl FILE setlkw w|r START LEN HOLD   F_SETLKW; prints "locked after N s"
#   perl lockf.pl FILE getlk  w|r START LEN        F_GETLK; prints "unlck" or "wrlck|rdlck START LEN"
#   perl lockf.pl FILE flock  ex|nb HOLD           flock(2) LOCK_EX (nb: | LOCK_NB); "locked" or "EWOULDBLOCK"
# A granted lock is held HOLD seconds (or until the file /tmp/release-FILE-BASENAME appears),
# then the process exits without unlocking: the kernel releases it as the process ends.
# x86_64 values: F_GETLK 5, F_SETLK 6, F_SETLKW 7; F_RDLCK 0, F_WRLCK 1, F_UNLCK 2; struct
# flock is short type, short whence, 4 bytes padding, off_t start, off_t len, pid_t pid, padding.
$| = 1;
my ($file, $cmd, @a) = @ARGV;
open(my $fh, '+<', $file) or die "open $file: $!";
my $t0 = time;
sub hold {
  my ($secs) = @_;
  (my $base = $file) =~ s{.*/}{};
  for (my $i = 0; $i < $secs * 10; $i++) {
    last if -e "/tmp/release-$base";
    select(undef, undef, undef, 0.1);
  }
  exit 0;
}
sub flk { my ($type, $start, $len) = @_; pack('s s x4 q q l x4', $type, 0, $start, $len, 0) }
if ($cmd eq 'setlk' || $cmd eq 'setlkw') {
  my ($rw, $start, $len, $secs) = @a;
  my $buf = flk($rw eq 'w' ? 1 : 0, $start, $len);
  if (fcntl($fh, $cmd eq 'setlk' ? 6 : 7, $buf)) {
    print $cmd eq 'setlk' ? "locked\n" : "locked after " . (time - $t0) . " s\n";
    hold($secs);
  }
  my $e = $! + 0;
  print $e == 11 || $e == 13 ? "EAGAIN\n" : "error $e: $!\n";
  exit 1;
} elsif ($cmd eq 'getlk') {
  my ($rw, $start, $len) = @a;
  my $buf = flk($rw eq 'w' ? 1 : 0, $start, $len);
  fcntl($fh, 5, $buf) or die "F_GETLK: $!";
  my ($type, $whence, $s, $l, $pid) = unpack('s s x4 q q l x4', $buf);
  print $type == 2 ? "unlck\n" : ($type == 1 ? 'wrlck' : 'rdlck') . " $s $l\n";
  exit 0;
} elsif ($cmd eq 'flock') {
  my ($mode, $secs) = @a;
  if (flock($fh, 2 | ($mode eq 'nb' ? 4 : 0))) {
    print "locked\n";
    hold($secs);
  }
  my $e = $! + 0;
  print $e == 11 ? "EWOULDBLOCK\n" : "error $e: $!\n";
  exit 1;
}
die "unknown command $cmd";

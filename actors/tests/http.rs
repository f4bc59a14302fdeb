//! The operations endpoint (`server.http`, `actors::http`) of a running `dittofs`, asked with
//! curl: liveness, readiness and its bearer token, on the embedded default stores, and on a
//! PostgreSQL store and an S3 store whose servers go away (`testkit::postgres`,
//! `testkit::s3`); its metrics, checked by promtool and scraped and queried by a real
//! Prometheus (Debian's `prometheus`).
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against real processes waits in real time"
)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::daemon::{Daemon, free_port, write_private_config};
#[cfg(all(feature = "postgres", feature = "s3"))]
use testkit::postgres::PgServer;
#[cfg(all(feature = "postgres", feature = "s3"))]
use testkit::s3::Moto;

const TOKEN: &str = "a-long-random-test-token-1f0c";

/// `(status, body without its last newlines)` of `GET http://127.0.0.1:PORT/PATH`, with `Authorization: Bearer
/// TOKEN` when `token` is given.
fn get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"]);
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = c
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("running curl (ci/setup.sh installs it)");
    assert!(
        out.status.success(),
        "curl {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("curl printed the status");
    (
        code.trim().parse().expect("an HTTP status"),
        body.trim_end_matches('\n').to_owned(),
    )
}

/// Adds `http` (YAML flow-mapping entries) to the `server` section of `d`'s configuration.
fn with_http(d: &Daemon, http: &str) {
    let text = std::fs::read_to_string(&d.config).unwrap();
    let (head, rest) = text
        .split_once("server: { state_dir: ")
        .expect("the test configuration has a server section");
    let (state, tail) = rest.split_once(" }").unwrap();
    write_private_config(
        &d.config,
        &format!("{head}server: {{ state_dir: {state}, http: {{ {http} }} }}{tail}"),
    );
}

/// Every metric the Grafana dashboard (`docs/grafana/dittofs.json`) queries is one the
/// exposition `text` declares (`# TYPE`; a histogram's `_bucket`, `_sum` and `_count` series
/// by its name), and the dashboard queries every one of them.
fn dashboard_uses_only(text: &str) {
    let path = testkit::vm::repo().join("docs/grafana/dittofs.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    let mut stack = vec![&dashboard];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(e)) = m.get("expr") {
                    exprs.push(e.clone());
                }
                stack.extend(m.values());
            }
            serde_json::Value::Array(a) => stack.extend(a),
            _ => {}
        }
    }
    assert!(!exprs.is_empty(), "no queries in {}", path.display());
    let declared: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|n| n.starts_with("dittofs_"))
        .collect();
    let mut used = std::collections::BTreeSet::new();
    for e in &exprs {
        let mut rest = e.as_str();
        while let Some(at) = rest.find("dittofs_") {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|b| declared.contains(b)))
                .map_or(name.clone(), str::to_owned);
            assert!(
                declared.contains(base.as_str()),
                "the dashboard queries {name}, which /metrics does not have: {e}"
            );
            used.insert(base);
        }
    }
    for name in &declared {
        assert!(
            used.contains(*name),
            "the dashboard shows nothing of {name}"
        );
    }
}

/// `promtool check metrics` (Debian's `prometheus`) finds nothing wrong with `text`.
fn promtool_accepts(text: &str) {
    use std::io::Write as _;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running promtool (ci/setup.sh installs Debian's prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{text}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {}\n{said}\n{text}",
        out.status
    );
}

/// A started dittofs in `dir` on the embedded default stores serving NFS (and SMB when
/// `smb`), with the endpoint on a free port asking for [`TOKEN`]; and that port.
fn with_token(dir: &Path, smb: bool) -> (Daemon, u16) {
    let http = free_port();
    let bin = env!("CARGO_BIN_EXE_dittofs");
    let shares = ["name: /export"];
    let mut d = if smb {
        Daemon::prepare_smb(bin, dir, &shares, "", "")
    } else {
        Daemon::prepare(bin, dir, &shares, "")
    };
    with_http(&d, &format!("port: {http}, token: {TOKEN}"));
    d.spawn();
    (d, http)
}

/// Asks `path` until `want` holds of the answer (up to 20 s); the last answer.
fn until(port: u16, path: &str, what: &str, want: impl Fn(u16, &str) -> bool) -> (u16, String) {
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = get(port, path, Some(TOKEN));
        if want(code, &body) {
            return (code, body);
        }
        assert!(Instant::now() < give_up, "{what}: still {code}\n{body}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Goal: `/health` answers without a token; `/ready` asks for the token (401 without it or
/// with a wrong one) and with it answers 200, naming each store and adapter; `/metrics` asks
/// for it too and shows NFS and SMB requests by procedure and status, their latency
/// histograms, connections, bytes by share, store calls by backend, operation and result,
/// and the build, in an exposition `promtool check metrics` accepts, and the Grafana
/// dashboard queries exactly those metrics; neither the log nor
/// `config show` shows the token; SIGTERM stops the server cleanly with
/// the endpoint on. Method: a RocksDB + filesystem dittofs serving NFS and SMB with
/// `server.http` set; libnfs's nfs-ls and smbclient as clients.
#[test]
fn health_and_readiness_with_a_token() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut d, http) = with_token(tmp.path(), true);

    let (code, body) = get(http, "/health", None);
    assert_eq!((code, body.as_str()), (200, "ok"));
    for token in [None, Some("wrong"), Some("")] {
        let (code, body) = get(http, "/ready", token);
        assert_eq!(code, 401, "/ready with {token:?}: {body}");
        assert!(body.contains("server.http.token"), "{body}");
    }
    let (code, body) = until(http, "/ready", "ready", |c, _| c == 200);
    assert_eq!(code, 200);
    for line in [
        "ready",
        "metadata store default: ok",
        "content store default: ok",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "no line {line:?} in\n{body}"
        );
    }
    // The adapters listen on every address by default: the line names the port.
    for (adapter, port) in [("nfs", d.port), ("smb", d.smb_port.unwrap())] {
        assert!(
            body.lines().any(|l| {
                l.starts_with(&format!("adapter {adapter}: listening on "))
                    && l.ends_with(&format!(":{port}"))
            }),
            "no {adapter} adapter on port {port} in\n{body}"
        );
    }
    let (code, _) = get(http, "/nothing-here", Some(TOKEN));
    assert_eq!(code, 404);

    // Metrics: behind the token; after an NFS listing (libnfs) and an SMB negotiation
    // (smbclient, refused at login), the requests, connections and build show, and promtool
    // accepts the exposition.
    assert_eq!(get(http, "/metrics", None).0, 401);
    let ls = Command::new("nfs-ls")
        .arg(d.url("/"))
        .output()
        .expect("running nfs-ls (ci/setup.sh installs libnfs-utils)");
    assert!(
        ls.status.success(),
        "nfs-ls: {}",
        String::from_utf8_lossy(&ls.stderr)
    );
    let smb = Command::new("smbclient")
        .args(["-L", "127.0.0.1", "-p", &d.smb_port.unwrap().to_string()])
        .args(["-U", "nobody%wrong", "-m", "SMB3"])
        .output()
        .expect("running smbclient (ci/setup.sh installs it)");
    assert!(!smb.status.success(), "an unknown user logged in");
    let local = tmp.path().join("local.bin");
    std::fs::write(&local, vec![7u8; 100_000]).unwrap();
    let cp = Command::new("nfs-cp")
        .arg(&local)
        .arg(d.url("/copied.bin"))
        .output()
        .expect("running nfs-cp");
    assert!(
        cp.status.success(),
        "nfs-cp: {}",
        String::from_utf8_lossy(&cp.stderr)
    );
    let cat = Command::new("nfs-cat")
        .arg(d.url("/copied.bin"))
        .output()
        .expect("running nfs-cat");
    assert_eq!(
        cat.stdout.len(),
        100_000,
        "nfs-cat: {}",
        String::from_utf8_lossy(&cat.stderr)
    );
    let (code, text) = get(http, "/metrics", Some(TOKEN));
    assert_eq!(code, 200, "{text}");
    for series in [
        "dittofs_build_info{version=\"",
        "dittofs_requests_total{protocol=\"nfs\",procedure=\"READDIRPLUS\",status=\"NFS3_OK\"}",
        "dittofs_requests_total{protocol=\"smb\",procedure=\"NEGOTIATE\",status=\"STATUS_SUCCESS\"}",
        "dittofs_request_duration_seconds_bucket{protocol=\"nfs\",procedure=\"GETATTR\",le=\"",
        "dittofs_request_duration_seconds_count{protocol=\"smb\",procedure=\"SESSION_SETUP\"}",
        "dittofs_connections{protocol=\"nfs\"}",
        "dittofs_connections_accepted_total{protocol=\"smb\"}",
        "# TYPE dittofs_request_duration_seconds histogram",
        "dittofs_store_operations_total{store=\"metadata\",backend=\"rocksdb\",operation=\"readdir\",result=\"ok\"}",
        "dittofs_read_bytes_total{share=\"/export\"}",
        "dittofs_written_bytes_total{share=\"/export\"}",
        "dittofs_store_operations_total{store=\"content\",backend=\"filesystem\",operation=\"probe\",result=\"ok\"}",
        "dittofs_store_operation_duration_seconds_bucket{store=\"metadata\",backend=\"rocksdb\",operation=\"getattr\",le=\"",
    ] {
        assert!(text.contains(series), "no {series} in\n{text}");
    }
    let accepted = text
        .lines()
        .find_map(|l| l.strip_prefix("dittofs_connections_accepted_total{protocol=\"nfs\"} "))
        .expect("the NFS accepted series");
    assert!(accepted.parse::<f64>().unwrap() >= 1.0, "{accepted}");
    for (series, at_least) in [
        ("dittofs_written_bytes_total{share=\"/export\"} ", 100_000.0),
        ("dittofs_read_bytes_total{share=\"/export\"} ", 100_000.0),
    ] {
        let value: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap();
        assert!(value >= at_least, "{series}{value}");
    }
    promtool_accepts(&text);
    dashboard_uses_only(&text);

    let shown = d.cli(&["config", "show"], "");
    assert!(shown.contains("token: <redacted>"), "{shown}");
    assert!(!shown.contains(TOKEN), "config show printed the token");
    assert_eq!(d.terminate(), Some(0), "{}", d.log());
    assert!(!d.log().contains(TOKEN), "the log shows the token");
}

/// Goal: `/ready` follows the stores: 503 naming the PostgreSQL store while its server is
/// down (within the probe timeout, not hanging), 200 again once it is back; 503 naming the
/// S3 store once the S3 server is gone; `/health` stays 200 throughout. Method: a dittofs on
/// a throwaway PostgreSQL and a moto S3 server, without a token; the database server is
/// stopped for 6 s (`PgServer::restart`) on another thread, then moto is killed.
#[cfg(all(feature = "postgres", feature = "s3"))]
#[test]
fn readiness_follows_the_stores() {
    let pg = PgServer::start();
    let url = pg.database();
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let http = free_port();
    let mut d = Daemon::prepare(
        env!("CARGO_BIN_EXE_dittofs"),
        tmp.path(),
        &["name: /export"],
        "",
    );
    write_stores_config(&d, tmp.path(), &url, &moto.endpoint(), http);
    d.spawn();
    let (_, body) = until(http, "/ready", "ready", |c, _| c == 200);
    for line in ["metadata store pg: ok", "content store s3: ok"] {
        assert!(
            body.lines().any(|l| l == line),
            "no line {line:?} in\n{body}"
        );
    }

    std::thread::scope(|s| {
        s.spawn(|| pg.restart(Duration::from_secs(6)));
        let started = Instant::now();
        let (_, body) = until(
            http,
            "/ready",
            "not ready while PostgreSQL is down",
            |c, _| c == 503,
        );
        assert!(
            body.lines()
                .any(|l| l.starts_with("metadata store pg: not answering")),
            "{body}"
        );
        assert!(body.starts_with("not ready"), "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "readiness took {:?} to notice",
            started.elapsed()
        );
        assert!(d.alive(), "dittofs died: {}", d.stderr_tail());
        assert_eq!(get(http, "/health", None).0, 200);
    });
    assert!(d.alive(), "dittofs died: {}", d.stderr_tail());
    let (_, body) = until(http, "/ready", "ready again", |c, _| c == 200);
    assert!(body.contains("metadata store pg: ok"), "{body}");

    drop(moto);
    // (Waited for with PostgreSQL answering too: right after its restart, a call may still
    // meet a connection the restart cut.)
    let (_, body) = until(http, "/ready", "not ready without S3", |c, body| {
        c == 503
            && body.lines().any(|l| l == "metadata store pg: ok")
            && body
                .lines()
                .any(|l| l.starts_with("content store s3: not answering"))
    });
    assert!(body.starts_with("not ready"), "{body}");
    assert_eq!(get(http, "/health", None).0, 200);
}

/// `d`'s configuration: metadata on PostgreSQL `url` (store `pg`), content in S3 at
/// `endpoint` (store `s3`, its cache in `dir`), the endpoint on `http` without a token.
#[cfg(all(feature = "postgres", feature = "s3"))]
fn write_stores_config(d: &Daemon, dir: &Path, url: &str, endpoint: &str, http: u16) {
    write_private_config(
        &d.config,
        &format!(
            "server: {{ state_dir: {dir}/state, http: {{ port: {http} }} }}\n\
             metadata: {{ stores: {{ pg: {{ type: postgres, postgres: {{ url: '{url}', max_connections: 4, retry_deadline: 1s }} }} }} }}\n\
             content: {{ stores: {{ s3: {{ type: s3, s3: {{ bucket: ready, endpoint: '{endpoint}', \
             force_path_style: true, create_bucket: true, access_key_id: k, secret_access_key: ready-secret, \
             retry_deadline: 1s, cache_dir: '{dir}/s3-cache' }} }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: pg, content_store: s3, allowed_clients: [] }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }} }}\n",
            dir = dir.display(),
            port = d.port,
        ),
    );
}

/// A Prometheus server (Debian's `prometheus`) scraping `127.0.0.1:target` every second with
/// bearer token `token`, its data in `dir`, its API on a free loopback port; killed on drop.
struct Prometheus {
    child: std::process::Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, target: u16, token: &str) -> Self {
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{ scrape_interval: 1s, evaluation_interval: 1s }}\n\
                 scrape_configs:\n  - job_name: dittofs\n    \
                 authorization: {{ type: Bearer, credentials: {token} }}\n    \
                 static_configs: [ {{ targets: ['127.0.0.1:{target}'] }} ]\n"
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("running prometheus (ci/setup.sh installs Debian's prometheus)");
        let p = Self { child, port };
        let give_up = Instant::now() + Duration::from_secs(30);
        let ready = || {
            Command::new("curl")
                .args(["-sf", "--max-time", "2", "-o", "/dev/null"])
                .arg(format!("http://127.0.0.1:{port}/-/ready"))
                .status()
                .is_ok_and(|s| s.success())
        };
        while !ready() {
            assert!(
                Instant::now() < give_up,
                "prometheus did not become ready: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// The result list of instant query `q` (its JSON text).
    fn query(&self, q: &str) -> String {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "10", "-G"])
            .arg(format!("http://127.0.0.1:{}/api/v1/query", self.port))
            .args(["--data-urlencode", &format!("query={q}")])
            .output()
            .expect("running curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Goal: a real Prometheus scrapes `/metrics` with the bearer token and can query one series
/// of each kind: a counter (requests), a gauge (connections), a histogram (latency, through
/// `histogram_quantile`) and the build info. Method: Debian's prometheus scraping a dittofs
/// every second; libnfs's nfs-ls makes the requests; the queries go through Prometheus's HTTP
/// API until each has a result (up to 30 s).
#[test]
fn prometheus_scrapes_and_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let (d, http) = with_token(tmp.path(), false);
    let prom_dir = tmp.path().join("prometheus");
    std::fs::create_dir_all(&prom_dir).unwrap();
    let prom = Prometheus::start(&prom_dir, http, TOKEN);
    for _ in 0..3 {
        let ls = Command::new("nfs-ls").arg(d.url("/")).output().unwrap();
        assert!(
            ls.status.success(),
            "nfs-ls: {}",
            String::from_utf8_lossy(&ls.stderr)
        );
    }
    for (kind, q) in [
        ("up", "up{job=\"dittofs\"} == 1"),
        (
            "counter",
            "sum(dittofs_requests_total{protocol=\"nfs\",status=\"NFS3_OK\"}) > 0",
        ),
        ("gauge", "dittofs_connections{protocol=\"nfs\"}"),
        (
            "histogram",
            "histogram_quantile(0.5, sum by (le) (dittofs_request_duration_seconds_bucket{protocol=\"nfs\"}))",
        ),
        ("info", "dittofs_build_info == 1"),
    ] {
        let give_up = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = prom.query(q);
            if answer.contains("\"status\":\"success\"") && answer.contains("\"value\":[") {
                break;
            }
            assert!(
                Instant::now() < give_up,
                "{kind}: no result for {q}: {answer}\n{}",
                std::fs::read_to_string(prom_dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

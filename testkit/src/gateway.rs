//! Gateways: several `dittofs start` processes on one PostgreSQL database and one content
//! store (a directory they share, or one S3 bucket), all serving `/export`, each with its own
//! state directory, port and log.

use std::path::{Path, PathBuf};

use crate::Daemon;

/// Where the gateways keep file bytes.
#[derive(Clone, Debug)]
pub enum Content {
    /// One directory every gateway uses (`type: filesystem`).
    Dir(PathBuf),
    /// One bucket (`type: s3`) at this endpoint (a [`crate::s3::Moto`]); each gateway keeps
    /// its own block cache under its state directory.
    S3 {
        /// The endpoint URL.
        endpoint: String,
        /// The bucket (created by the first gateway that finds it missing).
        bucket: String,
    },
}

/// A gateway of binary `bin` (in `actors`' tests: `env!("CARGO_BIN_EXE_dittofs")`) serving
/// `/export` from PostgreSQL database `url` and `content`, with its state, configuration and
/// log under `dir` (created if missing), on a free loopback port; not started yet.
pub fn gateway(bin: impl Into<PathBuf>, dir: &Path, url: &str, content: &Content) -> Daemon {
    std::fs::create_dir_all(dir).expect("creating the gateway's directory");
    configure(
        Daemon::prepare(bin, dir, &["name: /export"], ""),
        dir,
        url,
        content,
    )
}

/// [`gateway`], also serving SMB (share `export`) on a free loopback port
/// ([`Daemon::smb_port`]); users are added with [`Daemon::add_user`] on each gateway.
pub fn gateway_smb(bin: impl Into<PathBuf>, dir: &Path, url: &str, content: &Content) -> Daemon {
    std::fs::create_dir_all(dir).expect("creating the gateway's directory");
    configure(
        Daemon::prepare_smb(bin, dir, &["name: /export"], "", ""),
        dir,
        url,
        content,
    )
}

/// Rewrites `d`'s configuration (in `dir`) for PostgreSQL `url` and `content`, keeping its
/// ports.
fn configure(d: Daemon, dir: &Path, url: &str, content: &Content) -> Daemon {
    let content = match content {
        Content::Dir(path) => format!(
            "type: filesystem, filesystem: {{ path: {} }}",
            path.display()
        ),
        Content::S3 { endpoint, bucket } => format!(
            "type: s3, s3: {{ bucket: {bucket}, endpoint: '{endpoint}', force_path_style: true, \
             create_bucket: true, access_key_id: gateway-key, secret_access_key: gateway-secret, \
             block_size: 64KiB, cache_size: 4MiB, cache_dir: '{}' }}",
            dir.join("s3-cache").display()
        ),
    };
    // The URL holds the database password (and S3 the secret key).
    crate::daemon::write_private_config(
        &d.config,
        &format!(
            "logging: {{ level: info }}\n\
             server: {{ state_dir: {state}/state }}\n\
             metadata: {{ stores: {{ default: {{ type: postgres, postgres: {{ url: '{url}', max_connections: 8 }} }} }} }}\n\
             content: {{ stores: {{ default: {{ {content} }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: default, content_store: default, allowed_clients: [] }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }}{smb} }}\n",
            state = dir.display(),
            port = d.port,
            smb = d
                .smb_port
                .map(|p| format!(", smb: {{ enabled: true, port: {p} }}"))
                .unwrap_or_default(),
        ),
    );
    d
}

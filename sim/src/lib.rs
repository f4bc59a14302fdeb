//! Deterministic simulation of the DittoFS server.
//!
//! The production `actors::server::serve()` runs inside a turmoil simulation: the network is
//! turmoil's, time is turmoil's (through [`SimClock`] in the server's `Env`), the stores are the
//! memory stores, and clients are built here on the `protocol` crate's codecs. One seed
//! reproduces one run, down to the bytes on the wire; [`Trace`] is how that is checked.
//!
//! Nothing here opens a real socket or reads the real clock.
//!
//! Entry points: [`run_seam_scenario`] (the seam scenario: MOUNT, CREATE, WRITE UNSTABLE,
//! COMMIT, READ, READDIRPLUS, clean shutdown), and the parts it is built from for other
//! scenarios: [`SimListener`], [`SimClock`], [`SimClient`].
//!
//! Layout:
//! - [`net`]: [`SimListener`], turmoil's TCP listener behind the server's `Listener` trait.
//! - [`clock`]: [`SimClock`], the server's `Clock` over simulated time.
//! - [`client`]: [`SimClient`], ONC RPC / MOUNT / NFSv3 calls over turmoil TCP, traced.
//! - [`trace`]: [`Trace`], the stable one-line-per-message record of a run.
//! - [`scenario`]: the seam scenario and its report.
//! - [`gateways`], [`remote`], [`board`]: several gateways over stores on a `db` host reached
//!   through the simulated network, and the close-to-open check across them.
//! - [`objects`]: a versioned object store shared by the gateways, modelled on the S3 one.
//! - [`lock_workload`], [`lock_board`]: SMB clients taking byte-range locks and leases, and
//!   the checkers over what the server granted.

pub mod board;
pub mod client;
pub mod clock;
pub mod disk;
pub mod faulty;
pub mod gateways;
pub mod link;
pub mod lock_board;
pub mod lock_workload;
pub mod model;
pub mod net;
pub mod objects;
pub mod remote;
pub mod run;
pub mod scenario;
pub mod script;
pub mod smb_client;
pub mod smb_workload;
pub mod spec;
pub mod trace;
pub mod workload;

pub use self::client::{RpcConn, SimClient};
pub use self::clock::{SimClock, sim_epoch};
pub use self::net::SimListener;
pub use self::scenario::{SeamReport, SeamRun, run_seam_scenario};
pub use self::trace::Trace;

/// The server configuration every simulation uses: one share `export` over the metadata store
/// named "mem" and the content store named `content`, owned by root with `root_mode`, no
/// squashing, no client restrictions, NFS on `port`.
pub(crate) fn share_config(
    export: &str,
    content: &str,
    root_mode: u32,
    handle_key: [u8; 32],
    port: u16,
) -> actors::server::ServerConfig {
    let share = actors::server::ShareSpec {
        name: export.to_owned(),
        metadata_store: "mem".to_owned(),
        content_store: content.to_owned(),
        read_only: false,
        root_mode,
        root_uid: 0,
        root_gid: 0,
        nfs: actors::server::nfs::export::NfsExport {
            anon_uid: 65534,
            anon_gid: 65534,
            ..Default::default()
        },
        smb: actors::server::SmbShare {
            name: export.trim_start_matches('/').to_owned(),
            ..Default::default()
        },
    };
    let mut config = actors::server::ServerConfig::new(vec![share], handle_key);
    config.nfs_port = port;
    config.resolver = Some(std::sync::Arc::new(smb_client::SimResolver));
    config
}

/// Why a simulated client or scenario failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A simulated socket failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The server broke record marking.
    #[error("record marking: {0}")]
    Frame(#[from] protocol::rpc::FrameError),
    /// A reply did not decode.
    #[error("undecodable {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: protocol::wire::DecodeError,
    },
    /// The server closed the connection before answering.
    #[error("connection closed while waiting for the reply to xid {xid}")]
    Closed {
        /// The call left unanswered.
        xid: u32,
    },
    /// A reply answered another call (this client has one call outstanding at a time).
    #[error("reply for xid {got} while waiting for xid {want}")]
    XidMismatch {
        /// The xid called.
        want: u32,
        /// The xid answered.
        got: u32,
    },
    /// The server refused the call at the RPC level.
    #[error("{what}: RPC reply {status:?}")]
    Rpc {
        /// Program and procedure.
        what: String,
        /// What the server said.
        status: protocol::rpc::ReplyStatus,
    },
    /// MNT failed.
    #[error("MNT {path}: {status}")]
    Mount {
        /// The path asked for.
        path: String,
        /// The status returned.
        status: protocol::mount3::MountStat3,
    },
    /// An NFSv3 procedure failed.
    #[error("NFS3 {proc_}: {status}")]
    Nfs {
        /// The procedure's name.
        proc_: &'static str,
        /// The status returned.
        status: protocol::nfs3::NfsStat3,
    },
    /// A store looked into after the run failed.
    #[error("store: {0}")]
    Store(#[from] stores::StoreError),
    /// A scenario's check failed; the message says what should have held.
    #[error("check failed: {0}")]
    Check(String),
    /// Turmoil failed the simulation (a host's error, a panic or the time limit).
    #[error("simulation: {0}")]
    Sim(String),
}

//! The share actor: the mailbox in front of one [`Share`]. Connections send it protocol
//! requests through a [`ShareHandle`]; it runs up to `concurrency` of them at once and answers
//! each through a oneshot. The handle is what erases the share's store types, so connections
//! are not generic over backends.
//!
//! Exit path: when every handle is dropped the mailbox closes; the actor then waits for its
//! running requests and returns.

use std::sync::Arc;

use bytes::Bytes;
use stores::{ContentStore, MetadataStore};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::handle::HandleCodec;
use super::nfs3;
use super::share::{Caller, Share};

/// Requests a share actor accepts.
#[derive(Debug)]
pub(crate) enum ShareMsg {
    /// An NFSv3 call (not NULL): procedure number and the XDR arguments.
    Nfs3 {
        /// The procedure.
        proc_: u32,
        /// Who is calling, after squashing.
        caller: Caller,
        /// The XDR arguments.
        args: Bytes,
        /// The encoded result body, or `None` for GARBAGE_ARGS.
        reply: oneshot::Sender<Option<Vec<u8>>>,
    },
}

/// A cloneable address of a share actor.
#[derive(Debug, Clone)]
pub(crate) struct ShareHandle {
    tx: mpsc::Sender<ShareMsg>,
    /// Its root handle bytes.
    pub(crate) root_handle: Arc<[u8]>,
}

/// Mailbox capacity of a share actor: requests queued beyond the ones running. Each connection
/// already caps its own in-flight calls, so this only smooths bursts from many connections.
pub(crate) const SHARE_MAILBOX_CAPACITY: usize = 256;

impl ShareHandle {
    /// Runs an NFSv3 procedure on the share. `None` means the arguments did not decode.
    pub(crate) async fn nfs3(&self, proc_: u32, caller: Caller, args: Bytes) -> Option<Vec<u8>> {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(ShareMsg::Nfs3 {
                proc_,
                caller,
                args,
                reply,
            })
            .await
            .is_err()
        {
            return Some(nfs3::server_fault(proc_));
        }
        rx.await.unwrap_or_else(|_| Some(nfs3::server_fault(proc_)))
    }
}

/// Starts the actor for `share`; returns its handle.
pub(crate) fn spawn<M: MetadataStore, C: ContentStore>(
    share: Share<M, C>,
    codec: HandleCodec,
    concurrency: usize,
) -> ShareHandle {
    let (tx, mut rx) = mpsc::channel::<ShareMsg>(SHARE_MAILBOX_CAPACITY);
    let root_handle: Arc<[u8]> = Arc::from(
        &codec.encode(super::handle::HandleTarget {
            share: share.id(),
            ino: share.root().ino,
            generation: share.root().generation,
        })[..],
    );
    let handle = ShareHandle { tx, root_handle };
    let codec = Arc::new(codec);
    tokio::spawn(async move {
        let running = Arc::new(Semaphore::new(concurrency.max(1)));
        while let Some(msg) = rx.recv().await {
            let permit = running
                .clone()
                .acquire_owned()
                .await
                .expect("share semaphore is never closed");
            let share = share.clone();
            let codec = codec.clone();
            tokio::spawn(async move {
                match msg {
                    ShareMsg::Nfs3 {
                        proc_,
                        caller,
                        args,
                        reply,
                    } => {
                        let out = nfs3::handle(&share, &codec, &caller, proc_, &args).await;
                        let _ = reply.send(out);
                    }
                }
                drop(permit);
            });
        }
        let _ = running.acquire_many(concurrency.max(1) as u32).await;
    });
    handle
}

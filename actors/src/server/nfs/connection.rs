//! The connection actor: one per TCP connection. It owns the socket, splits the byte stream
//! into ONC RPC records, runs up to `max_in_flight` calls at once (replies may leave out of
//! order, as RFC 5531 allows) and stops reading while the window is full, so a client that
//! sends faster than we answer is slowed by TCP itself.
//!
//! Exit path: the peer closes, a framing error (broken record marking) closes the connection,
//! or shutdown is signalled; in every case the actor stops reading, waits for its in-flight
//! calls to finish, writes their replies and closes the socket.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use protocol::rpc::RecordDecoder;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::dispatch::Dispatcher;
use super::rpc::ConnInfo;

/// Limits for one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnLimits {
    /// Calls executed at once on this connection.
    pub(crate) max_in_flight: usize,
}

/// Runs one connection to completion.
pub(crate) async fn run<S>(
    stream: S,
    info: ConnInfo,
    dispatcher: Arc<Dispatcher>,
    limits: ConnLimits,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let span = tracing::info_span!("conn", conn = info.id, peer = %info.peer);
    async move {
        tracing::debug!("connected");
        let (mut rd, wr) = tokio::io::split(stream);
        let window = limits.max_in_flight.max(1);
        let (tx, rx) = mpsc::channel::<(Bytes, OwnedSemaphorePermit)>(window);
        let writer = tokio::spawn(write_replies(wr, rx));
        let in_flight = Arc::new(Semaphore::new(window));
        let mut decoder = RecordDecoder::default();
        let mut buf = BytesMut::with_capacity(64 * 1024);
        'read: loop {
            // Drain every complete record before reading more.
            loop {
                let record = match decoder.decode(&mut buf) {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "broken record marking; closing the connection");
                        break 'read;
                    }
                };
                let permit = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break 'read,
                    p = in_flight.clone().acquire_owned() => p.expect("in-flight semaphore is never closed"),
                };
                let bytes = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break 'read,
                    b = dispatcher.reserve(record.len()) => b,
                };
                let d = dispatcher.clone();
                let tx = tx.clone();
                tokio::spawn(
                    async move {
                        let reply = d.dispatch(record, &info).await;
                        // The request is done with; its bytes go back before the reply waits.
                        drop(bytes);
                        if let Some(reply) = reply {
                            // buggify: the reply is lost on the wire after the call ran; the
                            // client retransmits and the duplicate request cache answers.
                            if !crate::buggify!("reply-dropped") {
                                // Room in the server-wide reply budget first: with many slow
                                // readers this waits, and this connection's window fills.
                                let budget = d.reserve_reply(reply.len()).await;
                                // The writer only goes away when the socket broke; the reply
                                // has nowhere to go then, and the client will retransmit.
                                let _ = tx.send((reply, budget)).await;
                            }
                        }
                        drop(permit);
                    }
                    .in_current_span(),
                );
            }
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            if crate::buggify!("slow-read") {
                // buggify: a server slow to read the next request (a busy machine, a full
                // socket buffer): the client's calls queue behind it.
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            let n = tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'read,
                n = rd.read_buf(&mut buf) => n,
            };
            match n {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "read failed");
                    break;
                }
            }
        }
        // Let in-flight calls finish and their replies go out, then close.
        let _all = in_flight.acquire_many(window as u32).await;
        drop(tx);
        let _ = writer.await;
        tracing::debug!("closed");
    }
    .instrument(span)
    .await;
}

/// Writes each reply as one record-marked fragment, and gives its bytes back to the server's
/// reply budget once written (a reply dropped unwritten gives them back too).
async fn write_replies<W: AsyncWrite + Unpin>(
    mut wr: W,
    mut rx: mpsc::Receiver<(Bytes, OwnedSemaphorePermit)>,
) {
    while let Some((reply, _budget)) = rx.recv().await {
        let header = protocol::rpc::record_header(reply.len(), true);
        if reply.len() > 1 && crate::buggify!("connection-cut-mid-reply") {
            // buggify: the connection breaks in the middle of a reply record; the client sees
            // a cut record and end of stream, reconnects and retransmits.
            let _ = wr.write_all(&header).await;
            let _ = wr.write_all(&reply[..reply.len() / 2]).await;
            let _ = wr.shutdown().await;
            return;
        }
        let ok = async {
            wr.write_all(&header).await?;
            wr.write_all(&reply).await?;
            // Coalesce: only flush when no further reply is ready.
            if rx.is_empty() {
                wr.flush().await?;
            }
            std::io::Result::Ok(())
        }
        .await;
        if let Err(e) = ok {
            tracing::debug!(error = %e, "write failed");
            break;
        }
    }
    let _ = wr.shutdown().await;
}

//! The S3 calls the content store makes, each with retries: jittered exponential backoff for
//! 5xx, 429, 409 and transport errors (timeouts, resets) until a deadline, after which the
//! call fails with [`StoreError::Busy`] (retry later) rather than an I/O error.
//!
//! [`classify`] is the one place that says what an HTTP status means, including the
//! outcomes of conditional writes: 412 (and 404 on `If-Match`, which AWS sends for a missing
//! key) is "precondition failed", 409 (a concurrent conditional write on AWS) is "retry".

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use s3::Bucket;
use s3::error::S3Error;

use crate::api::{StoreError, StoreResult};

/// What kind of request a status answers, for [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A read (GET, HEAD, LIST) or an unconditional write or delete.
    Plain,
    /// A create-only PUT (`If-None-Match: *`).
    IfNoneMatch,
    /// A PUT that replaces the object only if its ETag matches (`If-Match`).
    IfMatch,
}

/// What an HTTP status means to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: done.
    Done,
    /// The object does not exist (404 on a plain request).
    NotFound,
    /// A conditional write's condition did not hold: the object exists (create-only) or its
    /// ETag changed or it is gone (`If-Match`). Not retried: the caller decides.
    PreconditionFailed,
    /// Transient: 5xx, 429, 408, 409 (a conditional write racing another). Retried.
    Retry,
    /// Anything else (400, 403, a missing bucket): reported, not retried.
    Fail,
}

/// The one mapping from an HTTP status to an [`Outcome`].
pub fn classify(status: u16, request: Request) -> Outcome {
    match (status, request) {
        (200..=299, _) => Outcome::Done,
        (412, Request::IfMatch | Request::IfNoneMatch) => Outcome::PreconditionFailed,
        (404, Request::IfMatch) => Outcome::PreconditionFailed,
        (404, _) => Outcome::NotFound,
        (409 | 408 | 429 | 500..=599, _) => Outcome::Retry,
        _ => Outcome::Fail,
    }
}

/// The result of a request that did not fail: its outcome and body.
#[derive(Debug)]
pub struct Answer {
    /// Done, NotFound or PreconditionFailed.
    pub outcome: Outcome,
    /// The response body (empty unless `Done` for reads).
    pub body: Bytes,
}

/// A bucket with the retry policy of the store.
pub struct Client {
    pub(crate) bucket: Box<Bucket>,
    /// How long one call keeps retrying transient failures.
    pub(crate) deadline: Duration,
}

impl std::fmt::Debug for Client {
    // The bucket holds the credentials: print only where it points.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bucket", &self.bucket.name())
            .field("url", &self.bucket.url())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The ETag among response headers (names compared ignoring case).
fn etag_of(headers: &std::collections::HashMap<String, String>) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("etag"))
        .map(|(_, v)| v.clone())
}

/// An error from the client library: transport failures are transient.
fn transport(e: &S3Error) -> bool {
    matches!(e, S3Error::Reqwest(_) | S3Error::Io(_))
}

impl Client {
    /// Runs `attempt` until its status is not transient or the deadline passed. `what`
    /// names the call in errors (never a credential).
    async fn run<F, Fut, X>(
        &self,
        what: &str,
        request: Request,
        mut attempt: F,
    ) -> StoreResult<(Answer, Option<X>)>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(u16, Bytes, X), S3Error>>,
    {
        #[expect(
            clippy::disallowed_methods,
            reason = "real network retries; this backend never runs in the simulator"
        )]
        let start = Instant::now();
        let mut delay = Duration::from_millis(20);
        loop {
            let why = match attempt().await {
                Ok((status, body, extra)) => match classify(status, request) {
                    Outcome::Retry => format!("HTTP {status}"),
                    Outcome::Fail => {
                        let text = String::from_utf8_lossy(&body[..body.len().min(512)]);
                        return Err(StoreError::Backend(
                            format!("S3 {what}: HTTP {status}: {text}").into(),
                        ));
                    }
                    outcome => return Ok((Answer { outcome, body }, Some(extra))),
                },
                // Some calls of the library turn a status into an error: classify it the same.
                Err(S3Error::HttpFailWithBody(status, body)) => match classify(status, request) {
                    Outcome::Retry => format!("HTTP {status}"),
                    Outcome::Fail => {
                        return Err(StoreError::Backend(
                            format!("S3 {what}: HTTP {status}: {body}").into(),
                        ));
                    }
                    outcome => {
                        let body = Bytes::from(body);
                        return Ok((Answer { outcome, body }, None));
                    }
                },
                Err(e) if transport(&e) => e.to_string(),
                Err(e) => {
                    return Err(StoreError::Backend(format!("S3 {what}: {e}").into()));
                }
            };
            if start.elapsed() >= self.deadline {
                tracing::warn!(what, error = %why, "S3 call still failing at its deadline");
                return Err(StoreError::Busy);
            }
            tracing::debug!(what, error = %why, "S3 call failed; retrying");
            // Full jitter: sleep a random time up to the current bound, then double it.
            #[expect(
                clippy::disallowed_methods,
                reason = "backoff jitter of a real network client; never in the simulator"
            )]
            let sleep = rand::rng().random_range(Duration::ZERO..=delay);
            tokio::time::sleep(sleep).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    }

    /// GET of a whole object; `NotFound` if it does not exist.
    pub async fn get(&self, name: &str) -> StoreResult<Answer> {
        self.run("GET", Request::Plain, || async {
            let r = self.bucket.get_object(name).await?;
            Ok((r.status_code(), r.bytes().clone(), ()))
        })
        .await
        .map(|(a, _)| a)
    }

    /// GET of `len` bytes at `offset` (a range read); `len` must be > 0.
    pub async fn get_range(&self, name: &str, offset: u64, len: u64) -> StoreResult<Answer> {
        let end = offset + len.max(1) - 1;
        self.run("GET range", Request::Plain, || async {
            let r = self
                .bucket
                .get_object_range(name, offset, Some(end))
                .await?;
            Ok((r.status_code(), r.bytes().clone(), ()))
        })
        .await
        .map(|(a, _)| a)
    }

    /// A create-only PUT: `PreconditionFailed` if an object of that name exists. Objects of at
    /// least `multipart_min` bytes go up as a multipart upload (the condition is sent with
    /// the completion), with at most `parts` parts in flight.
    pub async fn put_new(
        &self,
        name: &str,
        data: Bytes,
        multipart_min: usize,
        parts: usize,
    ) -> StoreResult<Outcome> {
        let answer = if data.len() >= multipart_min {
            self.run("multipart PUT", Request::IfNoneMatch, || async {
                let mut reader: &[u8] = &data;
                let r = self
                    .bucket
                    .put_object_stream_builder(name)
                    .with_header(http::header::IF_NONE_MATCH, "*")?
                    .with_max_concurrent_chunks(parts)
                    .execute_stream(&mut reader)
                    .await?;
                Ok((r.status_code(), Bytes::new(), ()))
            })
            .await?
        } else {
            self.run("PUT", Request::IfNoneMatch, || async {
                let r = self
                    .bucket
                    .put_object_builder(name, &data)
                    .with_header("If-None-Match", "*")?
                    .execute()
                    .await?;
                Ok((r.status_code(), r.bytes().clone(), ()))
            })
            .await?
        };
        Ok(answer.0.outcome)
    }

    /// A PUT that replaces `name` only while its ETag is `etag`.
    pub async fn put_if_match(&self, name: &str, data: Bytes, etag: &str) -> StoreResult<Outcome> {
        let answer = self
            .run("conditional PUT", Request::IfMatch, || async {
                let r = self
                    .bucket
                    .put_object_builder(name, &data)
                    .with_header("If-Match", etag)?
                    .execute()
                    .await?;
                Ok((r.status_code(), r.bytes().clone(), ()))
            })
            .await?;
        Ok(answer.0.outcome)
    }

    /// A small PUT under `condition` (create-only, or `If-Match` this ETag) that also answers
    /// the new object's ETag, for a caller that replaces the object again later (the garbage
    /// scan lease).
    pub async fn put_tagged(
        &self,
        name: &str,
        data: Bytes,
        if_match: Option<&str>,
    ) -> StoreResult<(Outcome, Option<String>)> {
        let (request, header, value) = match if_match {
            Some(etag) => (Request::IfMatch, "If-Match", etag),
            None => (Request::IfNoneMatch, "If-None-Match", "*"),
        };
        let (answer, etag) = self
            .run("conditional PUT", request, || async {
                let r = self
                    .bucket
                    .put_object_builder(name, &data)
                    .with_header(header, value)?
                    .execute()
                    .await?;
                Ok((r.status_code(), r.bytes().clone(), etag_of(&r.headers())))
            })
            .await?;
        Ok((answer.outcome, etag.flatten()))
    }

    /// GET of a whole object with its ETag; `NotFound` if it does not exist.
    pub async fn get_tagged(&self, name: &str) -> StoreResult<(Answer, Option<String>)> {
        let (answer, etag) = self
            .run("GET", Request::Plain, || async {
                let r = self.bucket.get_object(name).await?;
                Ok((r.status_code(), r.bytes().clone(), etag_of(&r.headers())))
            })
            .await?;
        Ok((answer, etag.flatten()))
    }

    /// The ETag of `name`, `None` if it does not exist.
    pub async fn etag(&self, name: &str) -> StoreResult<Option<String>> {
        let (answer, head) = self
            .run("HEAD", Request::Plain, || async {
                let (head, status) = self.bucket.head_object(name).await?;
                Ok((status, Bytes::new(), head.e_tag))
            })
            .await?;
        Ok(match answer.outcome {
            Outcome::Done => head.flatten(),
            _ => None,
        })
    }

    /// Deletes `name`; deleting a missing object succeeds.
    pub async fn delete(&self, name: &str) -> StoreResult<()> {
        self.run("DELETE", Request::Plain, || async {
            let r = self.bucket.delete_object(name).await?;
            Ok((r.status_code(), Bytes::new(), ()))
        })
        .await?;
        Ok(())
    }

    /// The names and sizes of every object under `prefix`, in name order.
    pub async fn list(&self, prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let (_, page) = self
                .run("LIST", Request::Plain, || async {
                    // The library parses the body before it looks at the status, so an error
                    // answer (a 503 "slow down") comes back as a parse error: retried like a
                    // 5xx until the deadline.
                    let (result, status) = self
                        .bucket
                        .list_page(prefix.to_string(), None, token.clone(), None, Some(1000))
                        .await
                        .map_err(|e| match e {
                            S3Error::Reqwest(_)
                            | S3Error::Io(_)
                            | S3Error::HttpFailWithBody(..) => e,
                            other => S3Error::HttpFailWithBody(503, other.to_string()),
                        })?;
                    Ok((status, Bytes::new(), result))
                })
                .await?;
            let Some(page) = page else {
                return Ok(out);
            };
            out.extend(page.contents.into_iter().map(|o| (o.key, o.size)));
            match page.next_continuation_token {
                Some(t) if page.is_truncated => token = Some(t),
                _ => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Request, classify};

    /// Goal: the conditional-write outcomes are mapped as AWS and the emulators answer them:
    /// 412 is a failed precondition for both kinds of condition, 404 is one for `If-Match`
    /// only (AWS's answer for a missing key) and plain "not found" elsewhere, 409 is retried.
    #[test]
    fn conditional_outcomes() {
        assert_eq!(classify(200, Request::IfMatch), Outcome::Done);
        assert_eq!(classify(412, Request::IfMatch), Outcome::PreconditionFailed);
        assert_eq!(
            classify(412, Request::IfNoneMatch),
            Outcome::PreconditionFailed
        );
        assert_eq!(classify(404, Request::IfMatch), Outcome::PreconditionFailed);
        assert_eq!(classify(404, Request::Plain), Outcome::NotFound);
        assert_eq!(classify(409, Request::IfMatch), Outcome::Retry);
        assert_eq!(classify(409, Request::IfNoneMatch), Outcome::Retry);
        assert_eq!(classify(503, Request::Plain), Outcome::Retry);
        assert_eq!(classify(500, Request::IfNoneMatch), Outcome::Retry);
        assert_eq!(classify(403, Request::Plain), Outcome::Fail);
        assert_eq!(classify(412, Request::Plain), Outcome::Fail);
    }
}

//! Procedures on one file: GETATTR, SETATTR, ACCESS, READLINK, READ, WRITE, COMMIT.

use bytes::Bytes;
use protocol::nfs3::*;
use stores::Modified;

use super::{Ctx, IO_SIZE, R, with};
use crate::server::nfs::attrs;
use crate::server::share::foreign::Recall;
use crate::server::share::{AttrChange, Change, Stability, TimeSet};

/// What an attribute change modifies, for watchers ([`Ctx::modified`]).
fn modified_by(c: &AttrChange) -> Modified {
    let mut m = Modified::default();
    if c.size.is_some() {
        m |= Modified::SIZE | Modified::WRITE;
    }
    if c.mode.is_some() {
        m |= Modified::ATTRIBUTES;
    }
    if c.uid.is_some() || c.gid.is_some() {
        m |= Modified::SECURITY;
    }
    if c.atime != TimeSet::Keep {
        m |= Modified::ACCESS_TIME;
    }
    if c.mtime != TimeSet::Keep {
        m |= Modified::WRITE;
    }
    m
}

/// What a write modified: its data, and its size when that moved.
fn written(c: &Change) -> Modified {
    if c.before.as_ref().map(|a| a.size) == c.after.as_ref().map(|a| a.size) {
        Modified::WRITE
    } else {
        Modified::WRITE | Modified::SIZE
    }
}

pub(super) async fn getattr(
    cx: &Ctx<'_>,
    a: Getattr3Args<'_>,
    _: &Bytes,
) -> R<Getattr3ResOk, Getattr3ResFail> {
    let node = with(cx.node(a.object), Getattr3ResFail::default)?;
    match cx.share.getattr(cx.caller(), node).await {
        Ok(attr) => Ok(Getattr3ResOk {
            obj_attributes: attrs::fattr(&attr, cx.fsid()),
        }),
        Err(f) => Err((f.error.into(), Getattr3ResFail)),
    }
}

pub(super) async fn setattr(
    cx: &Ctx<'_>,
    a: Setattr3Args<'_>,
    _: &Bytes,
) -> R<Setattr3ResOk, Setattr3ResFail> {
    let node = with(cx.node(a.object), Setattr3ResFail::default)?;
    let change = attrs::attr_change(&a.new_attributes);
    let guard = a.guard.map(attrs::timestamp);
    if change.size.is_some() {
        cx.recall(node, Recall::Data).await;
    }
    let what = modified_by(&change);
    match cx.share.setattr(cx.caller(), node, change, guard).await {
        Ok(c) => {
            cx.modified(node, what).await;
            Ok(Setattr3ResOk {
                obj_wcc: cx.wcc(&c),
            })
        }
        Err(f) => {
            let (fail, obj_wcc) = cx.failed_wcc(f);
            Err((fail, Setattr3ResFail { obj_wcc }))
        }
    }
}

pub(super) async fn access(
    cx: &Ctx<'_>,
    a: Access3Args<'_>,
    _: &Bytes,
) -> R<Access3ResOk, Access3ResFail> {
    let node = with(cx.node(a.object), Access3ResFail::default)?;
    match cx
        .share
        .access(cx.caller(), node, attrs::rights(a.access))
        .await
    {
        Ok((attr, granted)) => Ok(Access3ResOk {
            obj_attributes: cx.post(Some(&attr)),
            access: attrs::access_bits(granted),
        }),
        Err(f) => {
            let (fail, obj_attributes) = cx.failed_post(f);
            Err((fail, Access3ResFail { obj_attributes }))
        }
    }
}

pub(super) async fn readlink(
    cx: &Ctx<'_>,
    a: Readlink3Args<'_>,
    _: &Bytes,
) -> R<Readlink3ResOk, Readlink3ResFail> {
    let node = with(cx.node(a.symlink), Readlink3ResFail::default)?;
    match cx.share.readlink(cx.caller(), node).await {
        Ok((attr, data)) => Ok(Readlink3ResOk {
            symlink_attributes: cx.post(Some(&attr)),
            data,
        }),
        Err(f) => {
            let (fail, symlink_attributes) = cx.failed_post(f);
            Err((fail, Readlink3ResFail { symlink_attributes }))
        }
    }
}

pub(super) async fn read(cx: &Ctx<'_>, a: Read3Args<'_>, _: &Bytes) -> R<Read3ResOk, Read3ResFail> {
    let node = with(cx.node(a.file), Read3ResFail::default)?;
    let mut count = a.count.min(IO_SIZE);
    if count > 1 && crate::buggify!("short-read") {
        // buggify: a short read, fewer bytes than asked and no EOF; clients read on from there.
        count /= 2;
    }
    match cx.share.read(cx.caller(), node, a.offset, count).await {
        Ok((attr, data, eof)) => Ok(Read3ResOk {
            file_attributes: cx.post(Some(&attr)),
            eof,
            data,
        }),
        Err(f) => {
            let (fail, file_attributes) = cx.failed_post(f);
            Err((fail, Read3ResFail { file_attributes }))
        }
    }
}

pub(super) async fn write(
    cx: &Ctx<'_>,
    a: Write3Args<'_>,
    raw: &Bytes,
) -> R<Write3ResOk, Write3ResFail> {
    let node = with(cx.node(a.file), Write3ResFail::default)?;
    let stability = match a.stable {
        StableHow::Unstable => Stability::Unstable,
        StableHow::DataSync => Stability::DataSync,
        StableHow::FileSync => Stability::FileSync,
    };
    // The data borrows from the record: hand the cache a reference-counted slice, no copy.
    let mut data = raw.slice_ref(a.data);
    if data.len() > 1 && crate::buggify!("short-write") {
        // buggify: a short write, only a prefix taken; clients send the rest.
        data.truncate(data.len() / 2);
    }
    let count = data.len() as u32;
    cx.recall(node, Recall::Data).await;
    match cx
        .share
        .write(cx.caller(), node, a.offset, data, stability)
        .await
    {
        Ok(w) => {
            // A stable write is the file's last (NFS has no close): tell watchers now, as a
            // COMMIT does after unstable ones.
            if stability != Stability::Unstable {
                cx.modified(node, written(&w.change)).await;
            }
            Ok(Write3ResOk {
                file_wcc: cx.wcc(&w.change),
                count,
                committed: a.stable,
                verf: Writeverf3(w.verifier),
            })
        }
        Err(f) => {
            let (fail, file_wcc) = cx.failed_wcc(f);
            Err((fail, Write3ResFail { file_wcc }))
        }
    }
}

pub(super) async fn commit(
    cx: &Ctx<'_>,
    a: Commit3Args<'_>,
    _: &Bytes,
) -> R<Commit3ResOk, Commit3ResFail> {
    let node = with(cx.node(a.file), Commit3ResFail::default)?;
    match cx.share.commit(cx.caller(), node).await {
        Ok(w) => {
            // The end of a run of unstable writes (a client commits at close): what SMB
            // watchers of the file's directory hear at an SMB CLOSE after writes.
            cx.modified(node, Modified::WRITE | Modified::SIZE).await;
            Ok(Commit3ResOk {
                file_wcc: cx.wcc(&w.change),
                verf: Writeverf3(w.verifier),
            })
        }
        Err(f) => {
            let (fail, file_wcc) = cx.failed_wcc(f);
            Err((fail, Commit3ResFail { file_wcc }))
        }
    }
}

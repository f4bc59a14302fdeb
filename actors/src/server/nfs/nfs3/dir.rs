//! Procedures on directories: LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME,
//! LINK, READDIR, READDIRPLUS.

use bytes::Bytes;
use protocol::nfs3::*;
use protocol::wire::limits;
use stores::{Cookie, Device, FileKind};

use super::{Ctx, Fail, R, with};
use crate::server::nfs::attrs;
use crate::server::nfs::filehandle::FILE_HANDLE_LEN;
use crate::server::share::foreign::{EntryChange, Event, Recall};
use crate::server::share::{AttrChange, COOKIE_VERIFIER, CreateMode, Listing, NewKind, Node};

pub(super) async fn lookup(
    cx: &Ctx<'_>,
    a: Lookup3Args<'_>,
    raw: &Bytes,
) -> R<Lookup3ResOk, Lookup3ResFail> {
    let dir = with(cx.node(a.what.dir), Lookup3ResFail::default)?;
    let name = raw.slice_ref(a.what.name);
    match cx.share.lookup(cx.caller(), dir, name.clone()).await {
        Ok((obj, d)) => {
            if let Some(names) = cx.share.names() {
                names.remember(
                    Node::from(&obj),
                    dir,
                    &name,
                    obj.kind == FileKind::Directory,
                );
            }
            Ok(Lookup3ResOk {
                object: cx.handle_of(&obj),
                obj_attributes: cx.post(Some(&obj)),
                dir_attributes: cx.post(Some(&d)),
            })
        }
        Err(f) => {
            let (fail, dir_attributes) = cx.failed_post(f);
            Err((fail, Lookup3ResFail { dir_attributes }))
        }
    }
}

/// Shared tail of CREATE, MKDIR, SYMLINK and MKNOD.
async fn make(
    cx: &Ctx<'_>,
    where_: DirOpArgs3<'_>,
    raw: &Bytes,
    what: NewKind,
    attrs: AttrChange,
) -> Result<(PostOpFh3, PostOpAttr, WccData), (Fail, WccData)> {
    let dir = cx.node(where_.dir).map_err(|f| (f, WccData::default()))?;
    let name = raw.slice_ref(where_.name);
    let is_dir = matches!(what, NewKind::Directory);
    match cx
        .share
        .make(cx.caller(), dir, name.clone(), what, attrs)
        .await
    {
        Ok(m) => Ok((
            {
                if let Some(names) = cx.share.names() {
                    names.remember(Node::from(&m.attr), dir, &name, is_dir);
                }
                let added = EntryChange {
                    name: &name,
                    event: Event::Added,
                    is_dir,
                };
                cx.notify(dir, &m.dir, &[added]).await;
                PostOpFh3(Some(cx.handle_of(&m.attr)))
            },
            cx.post(Some(&m.attr)),
            cx.wcc(&m.dir),
        )),
        Err(f) => Err(cx.failed_wcc(f)),
    }
}

pub(super) async fn create(
    cx: &Ctx<'_>,
    a: Create3Args<'_>,
    raw: &Bytes,
) -> R<Create3ResOk, Create3ResFail> {
    let (attrs, mode) = match a.how {
        CreateHow3::Unchecked(s) => (attrs::attr_change(&s), CreateMode::Unchecked),
        CreateHow3::Guarded(s) => (attrs::attr_change(&s), CreateMode::Guarded),
        CreateHow3::Exclusive(v) => (
            AttrChange::default(),
            CreateMode::Exclusive(attrs::create_verifier(v.0)),
        ),
    };
    match make(cx, a.where_, raw, NewKind::Regular(mode), attrs).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Create3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Create3ResFail { dir_wcc })),
    }
}

pub(super) async fn mkdir(
    cx: &Ctx<'_>,
    a: Mkdir3Args<'_>,
    raw: &Bytes,
) -> R<Mkdir3ResOk, Mkdir3ResFail> {
    let attrs = attrs::attr_change(&a.attributes);
    match make(cx, a.where_, raw, NewKind::Directory, attrs).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Mkdir3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Mkdir3ResFail { dir_wcc })),
    }
}

pub(super) async fn symlink(
    cx: &Ctx<'_>,
    a: Symlink3Args<'_>,
    raw: &Bytes,
) -> R<Symlink3ResOk, Symlink3ResFail> {
    let mut attrs = attrs::attr_change(&a.symlink.symlink_attributes);
    // Symlink permissions are meaningless on Linux; knfsd creates them 0777.
    attrs.mode = Some(attrs.mode.unwrap_or(0o777));
    attrs.size = None;
    if a.symlink.symlink_data.is_empty() {
        return Err((Fail(NfsStat3::INVAL), Symlink3ResFail::default()));
    }
    let what = NewKind::Symlink(a.symlink.symlink_data.to_vec());
    match make(cx, a.where_, raw, what, attrs).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Symlink3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Symlink3ResFail { dir_wcc })),
    }
}

pub(super) async fn mknod(
    cx: &Ctx<'_>,
    a: Mknod3Args<'_>,
    raw: &Bytes,
) -> R<Mknod3ResOk, Mknod3ResFail> {
    let (kind, sattr, rdev) = match a.what {
        MknodData3::Chr(d) => (FileKind::CharDevice, d.dev_attributes, d.spec),
        MknodData3::Blk(d) => (FileKind::BlockDevice, d.dev_attributes, d.spec),
        MknodData3::Sock(s) => (FileKind::Socket, s, SpecData3::default()),
        MknodData3::Fifo(s) => (FileKind::Fifo, s, SpecData3::default()),
        MknodData3::Reg | MknodData3::Dir | MknodData3::Lnk => {
            return Err((Fail(NfsStat3::BADTYPE), Mknod3ResFail::default()));
        }
    };
    // Checked before the directory, as before the share went neutral (the share checks too).
    if matches!(kind, FileKind::CharDevice | FileKind::BlockDevice) && !cx.caller.is_root() {
        return Err((Fail(NfsStat3::PERM), Mknod3ResFail::default()));
    }
    let mut attrs = attrs::attr_change(&sattr);
    attrs.size = None;
    let dev = Device {
        major: rdev.specdata1,
        minor: rdev.specdata2,
    };
    match make(cx, a.where_, raw, NewKind::Special(kind, dev), attrs).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Mknod3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Mknod3ResFail { dir_wcc })),
    }
}

async fn remove_common(
    cx: &Ctx<'_>,
    what: DirOpArgs3<'_>,
    raw: &Bytes,
    dir_only: bool,
) -> Result<WccData, (Fail, WccData)> {
    let dir = cx.node(what.dir).map_err(|f| (f, WccData::default()))?;
    let name = raw.slice_ref(what.name);
    cx.recall_named(dir, &name, Recall::Name).await;
    match cx
        .share
        .remove(cx.caller(), dir, name.clone(), dir_only)
        .await
    {
        Ok(change) => {
            let removed = EntryChange {
                name: &name,
                event: Event::Removed,
                is_dir: dir_only,
            };
            cx.notify(dir, &change, &[removed]).await;
            Ok(cx.wcc(&change))
        }
        Err(f) => Err(cx.failed_wcc(f)),
    }
}

pub(super) async fn remove(
    cx: &Ctx<'_>,
    a: Remove3Args<'_>,
    raw: &Bytes,
) -> R<Remove3ResOk, Remove3ResFail> {
    remove_common(cx, a.object, raw, false)
        .await
        .map(|dir_wcc| Remove3ResOk { dir_wcc })
        .map_err(|(f, dir_wcc)| (f, Remove3ResFail { dir_wcc }))
}

pub(super) async fn rmdir(
    cx: &Ctx<'_>,
    a: Rmdir3Args<'_>,
    raw: &Bytes,
) -> R<Rmdir3ResOk, Rmdir3ResFail> {
    remove_common(cx, a.object, raw, true)
        .await
        .map(|dir_wcc| Rmdir3ResOk { dir_wcc })
        .map_err(|(f, dir_wcc)| (f, Rmdir3ResFail { dir_wcc }))
}

pub(super) async fn rename(
    cx: &Ctx<'_>,
    a: Rename3Args<'_>,
    raw: &Bytes,
) -> R<Rename3ResOk, Rename3ResFail> {
    let from = with(cx.node(a.from.dir), Rename3ResFail::default)?;
    let to = with(cx.node_here(a.to.dir), Rename3ResFail::default)?;
    let (from_name, to_name) = (raw.slice_ref(a.from.name), raw.slice_ref(a.to.name));
    // The moved node's and a replaced target's SMB handle caching goes first.
    cx.recall_named(from, &from_name, Recall::Name).await;
    cx.recall_named(to, &to_name, Recall::Name).await;
    match cx
        .share
        .rename(cx.caller(), from, from_name.clone(), to, to_name.clone())
        .await
    {
        Ok((f, t)) => {
            cx.notify_rename(from, &from_name, &f, to, &to_name, &t)
                .await;
            Ok(Rename3ResOk {
                fromdir_wcc: cx.wcc(&f),
                todir_wcc: cx.wcc(&t),
            })
        }
        Err(f) => {
            let todir_wcc = cx.wcc(&f.other);
            let (fail, fromdir_wcc) = cx.failed_wcc(f);
            Err((
                fail,
                Rename3ResFail {
                    fromdir_wcc,
                    todir_wcc,
                },
            ))
        }
    }
}

pub(super) async fn link(
    cx: &Ctx<'_>,
    a: Link3Args<'_>,
    raw: &Bytes,
) -> R<Link3ResOk, Link3ResFail> {
    let file = with(cx.node(a.file), Link3ResFail::default)?;
    let dir = match cx.node_here(a.link.dir) {
        Ok(d) => d,
        Err(fail) => {
            // Report the file's attributes if it resolves, as for any other failure.
            let file_attributes = match cx.share.getattr(cx.caller(), file).await {
                Ok(attr) => cx.post(Some(&attr)),
                Err(f) => return Err((f.error.into(), Link3ResFail::default())),
            };
            return Err((
                fail,
                Link3ResFail {
                    file_attributes,
                    ..Default::default()
                },
            ));
        }
    };
    let name = raw.slice_ref(a.link.name);
    match cx.share.link(cx.caller(), file, dir, name.clone()).await {
        Ok(m) => {
            if let Some(names) = cx.share.names() {
                names.remember(file, dir, &name, false);
            }
            let added = EntryChange {
                name: &name,
                event: Event::Added,
                is_dir: false,
            };
            cx.notify(dir, &m.dir, &[added]).await;
            Ok(Link3ResOk {
                file_attributes: cx.post(Some(&m.attr)),
                linkdir_wcc: cx.wcc(&m.dir),
            })
        }
        Err(f) => {
            let file_attributes = cx.post(f.node.after.as_ref());
            let linkdir_wcc = cx.wcc(&f.other);
            Err((
                f.error.into(),
                Link3ResFail {
                    file_attributes,
                    linkdir_wcc,
                },
            ))
        }
    }
}

/// Fixed part of a READDIR/READDIRPLUS reply: status, post_op_attr, cookieverf, list
/// terminator, eof.
const LISTING_FIXED: usize = 4 + 4 + FATTR3_ENCODED_LEN + 8 + 4 + 4;

/// Lists `dir` for READDIR (`attrs = false`) or READDIRPLUS.
async fn list<F: Default>(
    cx: &Ctx<'_>,
    dir: NfsFh3<'_>,
    cookie: Cookie3,
    verf: Cookieverf3,
    max_entries: usize,
    attrs: bool,
    fail: impl Fn(PostOpAttr) -> F,
) -> R<Listing, F> {
    let dir = with(cx.node(dir), F::default)?;
    cx.share
        .readdir(
            cx.caller(),
            dir,
            Cookie(cookie.0),
            verf.0,
            max_entries.min(4096),
            attrs,
        )
        .await
        .map_err(|f| {
            let (e, post) = cx.failed_post(f);
            (e, fail(post))
        })
}

pub(super) async fn readdir(
    cx: &Ctx<'_>,
    a: Readdir3Args<'_>,
    _: &Bytes,
) -> R<Readdir3ResOk, Readdir3ResFail> {
    let budget = (a.count as usize).min(limits::READDIR_REPLY_MAX);
    let max_entries = budget.saturating_sub(LISTING_FIXED) / 24 + 2;
    let fail = |dir_attributes| Readdir3ResFail { dir_attributes };
    let l = list(cx, a.dir, a.cookie, a.cookieverf, max_entries, false, fail).await?;
    let mut used = LISTING_FIXED;
    let mut out = Vec::new();
    let mut truncated = false;
    for e in l.entries {
        let e = Entry3 {
            fileid: e.attr.ino.0,
            name: e.name,
            cookie: Cookie3(e.cookie.0),
        };
        let size = entry3_encoded_len(&e);
        if used + size > budget {
            truncated = true;
            break;
        }
        used += size;
        out.push(e);
    }
    if out.is_empty() && truncated {
        return Err((Fail(NfsStat3::TOOSMALL), fail(cx.post(Some(&l.dir)))));
    }
    Ok(Readdir3ResOk {
        dir_attributes: cx.post(Some(&l.dir)),
        cookieverf: Cookieverf3(COOKIE_VERIFIER),
        entries: out,
        eof: l.eof && !truncated,
    })
}

pub(super) async fn readdirplus(
    cx: &Ctx<'_>,
    a: Readdirplus3Args<'_>,
    _: &Bytes,
) -> R<Readdirplus3ResOk, Readdirplus3ResFail> {
    let maxcount = (a.maxcount as usize).min(limits::READDIR_REPLY_MAX);
    let dircount = a.dircount as usize;
    let per_entry_min = 4 + 8 + 8 + 8 + 4 + FATTR3_ENCODED_LEN + 8 + FILE_HANDLE_LEN;
    let mut max_entries = maxcount.saturating_sub(LISTING_FIXED) / per_entry_min + 2;
    if crate::buggify!("readdir-short-page") {
        // buggify: a page with fewer entries than would fit; clients resume from its last cookie.
        max_entries = 1;
    }
    let fail = |dir_attributes| Readdirplus3ResFail { dir_attributes };
    let l = list(cx, a.dir, a.cookie, a.cookieverf, max_entries, true, fail).await?;
    let mut used = LISTING_FIXED;
    let mut dir_used = 0;
    let mut out = Vec::new();
    let mut truncated = false;
    // Clients reach the entries of a READDIRPLUS page by the handles in it, without LOOKUP.
    if let Some(names) = cx.share.names() {
        names.remember_all(
            Node::from(&l.dir),
            l.entries.iter().map(|e| {
                (
                    Node::from(&e.attr),
                    e.name.as_slice(),
                    e.attr.kind == FileKind::Directory,
                )
            }),
        );
    }
    for e in l.entries {
        let e = Entryplus3 {
            fileid: e.attr.ino.0,
            cookie: Cookie3(e.cookie.0),
            name_attributes: cx.post(Some(&e.attr)),
            name_handle: PostOpFh3(Some(cx.handle_of(&e.attr))),
            name: e.name,
        };
        let size = entryplus3_encoded_len(&e);
        // dircount counts only fileid, name and cookie (RFC 1813 §3.3.17).
        let dsize = entryplus3_dircount(&e);
        if used + size > maxcount
            || (dircount > 0 && dir_used + dsize > dircount && !out.is_empty())
        {
            truncated = true;
            break;
        }
        used += size;
        dir_used += dsize;
        out.push(e);
    }
    if out.is_empty() && truncated {
        return Err((Fail(NfsStat3::TOOSMALL), fail(cx.post(Some(&l.dir)))));
    }
    Ok(Readdirplus3ResOk {
        dir_attributes: cx.post(Some(&l.dir)),
        cookieverf: Cookieverf3(COOKIE_VERIFIER),
        entries: out,
        eof: l.eof && !truncated,
    })
}

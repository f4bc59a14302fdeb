//! Procedures on the file system: FSSTAT, FSINFO, PATHCONF.

use bytes::Bytes;
use protocol::nfs3::*;
use protocol::wire::limits;

use super::{Ctx, IO_SIZE, R, with};

pub(super) async fn fsstat(
    cx: &Ctx<'_>,
    a: Fsstat3Args<'_>,
    _: &Bytes,
) -> R<Fsstat3ResOk, Fsstat3ResFail> {
    let node = with(cx.node(a.fsroot), Fsstat3ResFail::default)?;
    match cx.share.fsstat(cx.caller(), node).await {
        Ok((obj, u)) => Ok(Fsstat3ResOk {
            obj_attributes: cx.post(Some(&obj)),
            tbytes: u.bytes_total,
            fbytes: u.bytes_free,
            abytes: u.bytes_free,
            tfiles: u.files_total,
            ffiles: u.files_free,
            afiles: u.files_free,
            invarsec: 0,
        }),
        Err(f) => {
            let (fail, obj_attributes) = cx.failed_post(f);
            Err((fail, Fsstat3ResFail { obj_attributes }))
        }
    }
}

pub(super) async fn fsinfo(
    cx: &Ctx<'_>,
    a: Fsinfo3Args<'_>,
    _: &Bytes,
) -> R<Fsinfo3ResOk, Fsinfo3ResFail> {
    let node = with(cx.node(a.fsroot), Fsinfo3ResFail::default)?;
    let obj = cx
        .share
        .getattr(cx.caller(), node)
        .await
        .map_err(|f| (f.error.into(), Fsinfo3ResFail::default()))?;
    Ok(Fsinfo3ResOk {
        obj_attributes: cx.post(Some(&obj)),
        rtmax: IO_SIZE,
        rtpref: IO_SIZE,
        rtmult: 4096,
        wtmax: IO_SIZE,
        wtpref: IO_SIZE,
        wtmult: 4096,
        dtpref: 64 * 1024,
        maxfilesize: cx.share.file_size_max(),
        time_delta: Nfstime3 {
            seconds: 0,
            nseconds: 1,
        },
        properties: FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME,
    })
}

pub(super) async fn pathconf(
    cx: &Ctx<'_>,
    a: Pathconf3Args<'_>,
    _: &Bytes,
) -> R<Pathconf3ResOk, Pathconf3ResFail> {
    let node = with(cx.node(a.object), Pathconf3ResFail::default)?;
    let obj = cx
        .share
        .getattr(cx.caller(), node)
        .await
        .map_err(|f| (f.error.into(), Pathconf3ResFail::default()))?;
    Ok(Pathconf3ResOk {
        obj_attributes: cx.post(Some(&obj)),
        linkmax: u32::MAX,
        name_max: limits::NAME_MAX as u32,
        no_trunc: true,
        chown_restricted: true,
        case_insensitive: false,
        case_preserving: true,
    })
}

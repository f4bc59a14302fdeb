//! Named pipes on IPC$: the server service (srvsvc, [MS-SRVS]) over DCE/RPC, so
//! `smbclient -L` and file browsers list the shares. A pipe open holds the bytes the client
//! has not read yet (bounded by [`PIPE_BYTES_MAX`]); WRITE and IOCTL(PIPE_TRANSCEIVE) carry
//! requests, READ and the IOCTL's output carry the answers.

use protocol::dcerpc::{self, Fault, Pdu, PduBody, fault};
use protocol::smb2::status::NtStatus;
use protocol::srvsvc::{
    self, ServerGetInfoResponse, ServerInfo, Share, ShareEnumResponse, ShareGetInfoResponse,
    SrvsvcRequest, share_type,
};

use super::connection::{Conn, undecodable};
use super::state::{OpenKind, PIPE_BYTES_MAX};

impl Conn {
    /// Runs the DCE/RPC PDU(s) in `data` on pipe open `id` and queues the answers for READ.
    pub(crate) fn pipe_write(&mut self, id: u64, data: &[u8]) -> Result<(), NtStatus> {
        let answer = self.pipe_call(data)?;
        let Some(OpenKind::Pipe { out, .. }) = self.opens.get_mut(&id).map(|o| &mut o.kind) else {
            return Err(NtStatus::INVALID_HANDLE);
        };
        if out.len() + answer.len() > PIPE_BYTES_MAX {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        out.extend_from_slice(&answer);
        Ok(())
    }

    /// Runs the DCE/RPC PDU in `data` on pipe open `id` and returns the answer (IOCTL
    /// PIPE_TRANSCEIVE).
    pub(crate) fn pipe_transact(&mut self, id: u64, data: &[u8]) -> Result<Vec<u8>, NtStatus> {
        match self.opens.get(&id).map(|o| &o.kind) {
            Some(OpenKind::Pipe { .. }) => self.pipe_call(data),
            _ => Err(NtStatus::INVALID_DEVICE_REQUEST),
        }
    }

    /// One srvsvc call: BIND is acknowledged, REQUESTs for the three share calls answered;
    /// anything else gets a DCE/RPC fault.
    fn pipe_call(&self, data: &[u8]) -> Result<Vec<u8>, NtStatus> {
        let pdu = Pdu::decode(data).map_err(undecodable)?;
        let frag_flags = dcerpc::PFC_FIRST_FRAG | dcerpc::PFC_LAST_FRAG;
        let alter = matches!(pdu.body, PduBody::AlterContext(_));
        match pdu.body {
            PduBody::Bind(bind) | PduBody::AlterContext(bind) => {
                let ack = bind.accept(&[srvsvc::SRVSVC], 0x1234_5678, srvsvc::PIPE_NAME);
                let body = if alter {
                    PduBody::AlterContextResp(ack)
                } else {
                    PduBody::BindAck(ack)
                };
                Ok(Pdu {
                    flags: frag_flags,
                    call_id: pdu.call_id,
                    body,
                }
                .encode())
            }
            PduBody::Request(req) => {
                if pdu.flags & frag_flags != frag_flags {
                    // Requests are a few hundred bytes; fragmented ones are not expected.
                    return Ok(self.fault(pdu.call_id, req.context_id, fault::PROTO_ERROR));
                }
                let call = match SrvsvcRequest::decode(req.opnum, &req.stub) {
                    Ok(c) => c,
                    Err(srvsvc::SrvsvcError::UnknownOpnum(_)) => {
                        return Ok(self.fault(pdu.call_id, req.context_id, fault::OP_RNG_ERROR));
                    }
                    Err(_) => {
                        return Ok(self.fault(pdu.call_id, req.context_id, fault::BAD_STUB_DATA));
                    }
                };
                let shares = self.share_list();
                let stub = match call {
                    SrvsvcRequest::ShareEnum(r) => ShareEnumResponse::answer(&r, &shares).encode(),
                    SrvsvcRequest::ShareGetInfo(r) => {
                        let share = shares
                            .iter()
                            .find(|s| s.name.eq_ignore_ascii_case(&r.net_name));
                        ShareGetInfoResponse::answer(&r, share).encode()
                    }
                    SrvsvcRequest::ServerGetInfo(r) => {
                        let info = ServerInfo {
                            platform_id: srvsvc::PLATFORM_ID_NT,
                            name: self.server.settings.server_name.clone(),
                            version_major: 10,
                            version_minor: 0,
                            server_type: srvsvc::SV_TYPE_DEFAULT,
                            comment: "DittoFS".to_owned(),
                        };
                        ServerGetInfoResponse::answer(&r, &info).encode()
                    }
                };
                let frags = dcerpc::response_fragments(
                    pdu.call_id,
                    req.context_id,
                    &stub,
                    dcerpc::FRAG_MAX,
                );
                Ok(frags.concat())
            }
            _ => Ok(self.fault(pdu.call_id, 0, fault::PROTO_ERROR)),
        }
    }

    fn fault(&self, call_id: u32, context_id: u16, status: u32) -> Vec<u8> {
        Pdu {
            flags: dcerpc::PFC_FIRST_FRAG | dcerpc::PFC_LAST_FRAG,
            call_id,
            body: PduBody::Fault(Fault {
                alloc_hint: 0,
                context_id,
                cancel_count: 0,
                status,
            }),
        }
        .encode()
    }

    /// The shares as srvsvc lists them: every configured share, and IPC$.
    fn share_list(&self) -> Vec<Share> {
        let mut list: Vec<Share> = self
            .server
            .shares
            .values()
            .map(|(export, smb)| Share {
                name: smb.name.clone(),
                share_type: share_type::DISKTREE,
                remark: format!("DittoFS {export}"),
                path: format!("C:{}", export.replace('/', "\\")),
                max_uses: u32::MAX,
                ..Share::default()
            })
            .collect();
        list.push(Share {
            name: "IPC$".to_owned(),
            share_type: share_type::IPC_HIDDEN,
            remark: "IPC Service".to_owned(),
            max_uses: u32::MAX,
            ..Share::default()
        });
        list
    }
}

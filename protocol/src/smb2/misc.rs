//! ECHO ([MS-SMB2] 2.2.28 request, 2.2.29 response) and CANCEL (2.2.30, which has no
//! response). All three bodies are StructureSize 4 and a reserved word; what identifies the
//! request a CANCEL targets is in its header (MessageId, or AsyncId with ASYNC_COMMAND).

use super::session::empty_body;

/// The SMB2 ECHO request ([MS-SMB2] 2.2.28).
#[doc(alias = "SMB2 ECHO Request")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoRequest;

/// The SMB2 ECHO response ([MS-SMB2] 2.2.29).
#[doc(alias = "SMB2 ECHO Response")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EchoResponse;

/// The SMB2 CANCEL request ([MS-SMB2] 2.2.30). The server sends no response to it; the
/// cancelled request completes with STATUS_CANCELLED.
#[doc(alias = "SMB2 CANCEL Request")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelRequest;

empty_body!(EchoRequest, EchoResponse, CancelRequest);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb2::header::{Command, Header};
    use crate::smb2::le::Writer;

    /// Goal: the three bodies are 04 00 00 00 ([MS-SMB2] 2.2.28 - 2.2.30), a non-zero Reserved
    /// is ignored, and a wrong StructureSize or a short body is refused.
    #[test]
    fn layouts() {
        let mut w = Writer::new();
        Header::new(Command::ECHO).encode(&mut w);
        EchoRequest.encode(&mut w);
        let mut msg = w.into_inner();
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(EchoRequest::decode(&msg), Ok(EchoRequest));
        assert_eq!(EchoResponse::decode(&msg), Ok(EchoResponse));
        msg[66] = 0xAA;
        assert_eq!(CancelRequest::decode(&msg), Ok(CancelRequest));
        assert!(CancelRequest::decode(&msg[..66]).is_err());
        msg[64] = 8;
        assert!(EchoRequest::decode(&msg).is_err());
        let mut w = Writer::new();
        CancelRequest.encode(&mut w);
        EchoResponse.encode(&mut w);
        assert_eq!(w.as_slice(), &[4, 0, 0, 0, 4, 0, 0, 0]);
    }
}

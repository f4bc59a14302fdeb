//! TEMPORARY: handlers whose codecs are not merged yet.
use protocol::smb2::status::NtStatus;

use super::connection::{Conn, Handled, Req};

impl Conn {
    pub(crate) async fn query_info(&mut self, _req: Req<'_>) -> Handled {
        Err(NtStatus::NOT_SUPPORTED)
    }
    pub(crate) async fn set_info(&mut self, _req: Req<'_>) -> Handled {
        Err(NtStatus::NOT_SUPPORTED)
    }
    pub(crate) async fn ioctl(&mut self, _req: Req<'_>) -> Handled {
        Err(NtStatus::NOT_SUPPORTED)
    }
    pub(crate) fn pipe_write(&mut self, _id: u64, _data: &[u8]) -> Result<(), NtStatus> {
        Err(NtStatus::NOT_SUPPORTED)
    }
}

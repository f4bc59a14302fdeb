//! TEMPORARY: handlers whose codecs are not merged yet.
use protocol::smb2::status::NtStatus;

use super::connection::{Conn, Handled, Req};

impl Conn {
    pub(crate) fn pipe_transact(&mut self, _id: u64, _data: &[u8]) -> Result<Vec<u8>, NtStatus> {
        Err(NtStatus::NOT_SUPPORTED)
    }
    pub(crate) fn pipe_write(&mut self, _id: u64, _data: &[u8]) -> Result<(), NtStatus> {
        Err(NtStatus::NOT_SUPPORTED)
    }
}

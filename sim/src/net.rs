//! The transport half of the seam: turmoil's simulated TCP listener as an
//! [`actors::runtime::Listener`], so `serve()` accepts simulated connections exactly as it
//! accepts real ones.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use actors::runtime::Listener;

/// A turmoil TCP listener. A newtype because neither the trait nor turmoil's type is ours
/// (orphan rule); `Debug` is written by hand since turmoil's listener does not implement it.
pub struct SimListener(turmoil::net::TcpListener);

impl SimListener {
    /// Binds `0.0.0.0:port` on the current simulated host. Must run inside a turmoil host.
    pub async fn bind(port: u16) -> io::Result<Self> {
        turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
            .await
            .map(Self)
    }
}

impl fmt::Debug for SimListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimListener")
            .field(&self.0.local_addr().ok())
            .finish()
    }
}

impl Listener for SimListener {
    type Conn = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Conn, SocketAddr)> {
        // Turmoil has no Nagle to switch off: a write is delivered as one segment.
        self.0.accept().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_listener<L: Listener>() {}

    /// Goal: the real and the simulated listener meet the same bounds, so `serve()` stays one
    /// function for both. Method: compile-only; instantiating the bound is the check.
    #[test]
    fn real_and_simulated_listeners_meet_the_same_bounds() {
        is_listener::<tokio::net::TcpListener>();
        is_listener::<SimListener>();
    }
}

//! The DittoFS server.

//! Deterministic simulation of the DittoFS server.

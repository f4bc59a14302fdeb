//! CIDR blocks (`10.0.0.0/8`, `fd00::/8`) for a share's `allowed_clients`.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 network: an address whose bits past `prefix_len` are zero, and the prefix
/// length. A bare address (`192.0.2.7`) is the network of that one host (`/32` or `/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a CIDR block was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("{0:?} is not an IPv4 or IPv6 address")]
    Address(String),
    /// The part after `/` is not a number.
    #[error("prefix length {0:?} is not a number")]
    PrefixNotNumber(String),
    /// The prefix is longer than the address.
    #[error("prefix length {len} is longer than {max}, the length of the address")]
    PrefixTooLong {
        /// What was written.
        len: u32,
        /// 32 for IPv4, 128 for IPv6.
        max: u8,
    },
    /// Bits past the prefix are set, which usually means a typo.
    #[error("host bits are set past the prefix (did you mean {suggestion}?)")]
    HostBitsSet {
        /// The same block with the host bits cleared.
        suggestion: Cidr,
    },
}

impl Cidr {
    /// The block of `prefix_len` leading bits of `network`; the remaining bits must be zero.
    pub fn new(network: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        let max = max_len(network);
        if prefix_len > max {
            return Err(CidrError::PrefixTooLong {
                len: prefix_len.into(),
                max,
            });
        }
        let masked = mask(network, prefix_len);
        if masked != network {
            return Err(CidrError::HostBitsSet {
                suggestion: Self {
                    network: masked,
                    prefix_len,
                },
            });
        }
        Ok(Self {
            network,
            prefix_len,
        })
    }

    /// The network address (host bits zero).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The number of leading bits that identify the network.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `addr` is inside the block. An IPv4-mapped IPv6 address (`::ffff:192.0.2.7`, how
    /// an IPv6 socket reports an IPv4 client) is compared as the IPv4 address it carries.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            IpAddr::V4(_) => addr,
        };
        addr.is_ipv4() == self.network.is_ipv4() && mask(addr, self.prefix_len) == self.network
    }
}

/// 32 or 128.
fn max_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `addr` with every bit past the first `prefix_len` cleared; `prefix_len <= max_len(addr)`.
fn mask(addr: IpAddr, prefix_len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let keep = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & keep).into())
        }
        IpAddr::V6(v6) => {
            let keep = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & keep).into())
        }
    }
}

/// Whether `addr` is in one of `blocks`, where no blocks at all means every address (the rule
/// of a share's `allowed_clients`).
pub fn allows(blocks: &[Cidr], addr: IpAddr) -> bool {
    blocks.is_empty() || blocks.iter().any(|block| block.contains(addr))
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr_text, len_text) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::Address(addr_text.to_owned()))?;
        let prefix_len = match len_text {
            None => max_len(addr),
            Some(text) => {
                let len = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse::<u32>().ok())
                    .flatten()
                    .ok_or_else(|| CidrError::PrefixNotNumber(text.to_owned()))?;
                u8::try_from(len)
                    .ok()
                    .filter(|len| *len <= max_len(addr))
                    .ok_or(CidrError::PrefixTooLong {
                        len,
                        max: max_len(addr),
                    })?
            }
        };
        Self::new(addr, prefix_len)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::units::deserialize_parsed(deserializer, "a CIDR block such as 10.0.0.0/8", |text| {
            text.parse()
                .map_err(|e| format!("{text:?} is not a CIDR block: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().expect("test block")
    }

    /// Parsing: v4, v6, bare hosts, zero-length prefixes, and each error with its message.
    #[test]
    fn parses_and_rejects() {
        assert_eq!(cidr("127.0.0.0/8").to_string(), "127.0.0.0/8");
        assert_eq!(cidr("::1/128").to_string(), "::1/128");
        assert_eq!(cidr("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(cidr("fd00::").to_string(), "fd00::/128");
        assert_eq!(cidr("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(cidr("::/0").network(), IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert_eq!(
            cidr(" 10.0.0.0/8 ").network(),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0))
        );

        assert_eq!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::Address("10.0.0".into()))
        );
        assert_eq!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err(CidrError::PrefixNotNumber("x".into()))
        );
        assert_eq!(
            "10.0.0.0/".parse::<Cidr>(),
            Err(CidrError::PrefixNotNumber(String::new()))
        );
        assert_eq!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong { len: 33, max: 32 })
        );
        assert_eq!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong { len: 129, max: 128 })
        );
        assert_eq!(
            "::/1000".parse::<Cidr>(),
            Err(CidrError::PrefixTooLong {
                len: 1000,
                max: 128
            })
        );
        assert_eq!(
            "::/+1".parse::<Cidr>(),
            Err(CidrError::PrefixNotNumber("+1".into()))
        );
        let err = "10.1.2.3/8".parse::<Cidr>().expect_err("host bits");
        assert_eq!(
            err.to_string(),
            "host bits are set past the prefix (did you mean 10.0.0.0/8?)"
        );
        let err = "fd00::1/8".parse::<Cidr>().expect_err("host bits");
        assert_eq!(
            err,
            CidrError::HostBitsSet {
                suggestion: cidr("fd00::/8")
            }
        );
    }

    /// Matching: edges of v4 and v6 blocks, /0 and full-length prefixes, no cross-family match
    /// except IPv4-mapped IPv6 clients against IPv4 blocks.
    #[test]
    fn contains_matches_prefixes() {
        let lan = cidr("192.168.1.0/24");
        assert!(lan.contains(ip("192.168.1.0")));
        assert!(lan.contains(ip("192.168.1.255")));
        assert!(!lan.contains(ip("192.168.2.0")));
        assert!(!lan.contains(ip("192.168.0.255")));
        assert!(lan.contains(ip("::ffff:192.168.1.9")));
        assert!(
            !lan.contains(ip("::192.168.1.9")),
            "IPv4-compatible is not IPv4-mapped"
        );

        let odd = cidr("10.0.0.0/13");
        assert!(odd.contains(ip("10.7.255.255")));
        assert!(!odd.contains(ip("10.8.0.0")));

        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.5")));
        assert!(!cidr("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(!cidr("::/0").contains(ip("203.0.113.5")));

        let host = cidr("::1/128");
        assert!(host.contains(ip("::1")));
        assert!(!host.contains(ip("::2")));
        assert!(!host.contains(ip("127.0.0.1")));

        let v6 = cidr("2001:db8:abcd::/48");
        assert!(v6.contains(ip("2001:db8:abcd:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:abce::1")));
        let v6_odd = cidr("fe80::/10");
        assert!(v6_odd.contains(ip("febf::1")));
        assert!(!v6_odd.contains(ip("fec0::1")));
    }

    /// Blocks are YAML strings; a bad one names itself and the reason.
    #[test]
    fn serde_round_trip() {
        let blocks: Vec<Cidr> =
            serde_yaml_ng::from_str("['127.0.0.0/8', '::1/128', 10.0.0.1]").expect("valid");
        assert_eq!(
            blocks,
            vec![cidr("127.0.0.0/8"), cidr("::1/128"), cidr("10.0.0.1/32")]
        );
        let text = serde_yaml_ng::to_string(&blocks).expect("serialise");
        assert_eq!(
            serde_yaml_ng::from_str::<Vec<Cidr>>(&text).expect("reparse"),
            blocks
        );
        let err = serde_yaml_ng::from_str::<Vec<Cidr>>("[10.0.0.0/33]").expect_err("bad block");
        assert!(
            err.to_string().contains(
                "\"10.0.0.0/33\" is not a CIDR block: prefix length 33 is longer than 32"
            ),
            "{err}"
        );
    }
}

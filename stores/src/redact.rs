//! Hiding passwords in connection URLs before they reach a log line or a printed
//! configuration: used by the PostgreSQL store (feature `postgres`) and by the server's
//! configuration display, which is compiled with or without that backend.

/// `url` with the password replaced by `***`, for logs and messages: the one between `user:`
/// and `@` of the authority, and a `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let url = redact_authority(url);
    match url.split_once('?') {
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
        }
        None => url,
    }
}

fn redact_authority(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{scheme}{}:***{}{tail}",
                    &userinfo[..colon],
                    &authority[at..]
                ),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    /// Goal: passwords never reach a log line through the URL. Method: redact URLs with and
    /// without a password, a port, a path and a query.
    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://ditto:s3cr%40t@db:5432/meta?sslmode=require"),
            "postgres://ditto:***@db:5432/meta?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://ditto@db/meta"),
            "postgres://ditto@db/meta"
        );
        assert_eq!(redact_url("postgres://db/meta"), "postgres://db/meta");
        assert_eq!(redact_url("postgres://u:p@h"), "postgres://u:***@h");
        assert_eq!(
            redact_url("postgres://u@h/d?sslmode=disable&password=pw"),
            "postgres://u@h/d?sslmode=disable&password=***"
        );
    }
}

//! Which client-supplied URLs we accept (`kazoo-validation` URL fields).
//!
//! Recording destinations accept http, https, ftp and ftps (the product needs
//! ftp/ftps; KAZOO master accepts only http(s), see
//! `shared/notes/recording-url-policy.md`). Callback URLs (webhooks, pivot)
//! stay http(s) as in KAZOO. For both, the host must be present and must not
//! be this machine: `localhost`, `127.0.0.1`, `0.0.0.0`, `::1` and `::` are
//! refused unless `allow_local_urls` is set (for local testing). Hosts are
//! normalised the way HTTP clients parse them first, so `127.1`,
//! `0x7f.0.0.1` or `[0:0:0:0:0:0:0:1]` cannot slip past the rule. Other
//! 127.x addresses are not named by the rule and are accepted.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlKind {
    /// Where recordings and attachments are sent.
    Destination,
    /// URLs KAZOO calls back for call control or events.
    Callback,
}

impl UrlKind {
    fn schemes(self) -> &'static [&'static str] {
        match self {
            UrlKind::Destination => &["http", "https", "ftp", "ftps"],
            UrlKind::Callback => &["http", "https"],
        }
    }
}

/// True when `raw` may be used as a URL of this kind.
pub(crate) fn is_acceptable(raw: &str, kind: UrlKind, allow_local: bool) -> bool {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((scheme, rest)) = raw.split_once("://") else {
        return false;
    };
    if !kind
        .schemes()
        .contains(&scheme.to_ascii_lowercase().as_str())
    {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_and_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    // A backslash would be read as a path separator by URL parsers.
    if host_and_port.is_empty() || authority.contains('\\') {
        return false;
    }
    // Parse as http whatever the scheme, so every scheme gets the same host
    // normalisation (ftps is not a "special" scheme to the URL standard).
    let Ok(parsed) = Url::parse(&format!("http://{rest}")) else {
        return false;
    };
    match parsed.host() {
        None => false,
        Some(host) => allow_local || !is_local(&host),
    }
}

fn is_local(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Host::Ipv4(addr) => is_local_v4(*addr),
        Host::Ipv6(addr) => {
            *addr == Ipv6Addr::LOCALHOST
                || addr.is_unspecified()
                || addr.to_ipv4_mapped().is_some_and(is_local_v4)
        }
    }
}

fn is_local_v4(addr: Ipv4Addr) -> bool {
    addr == Ipv4Addr::LOCALHOST || addr.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(url: &str) -> bool {
        is_acceptable(url, UrlKind::Destination, false)
    }

    #[test]
    fn accepts_the_four_destination_schemes() {
        assert!(destination("http://rec.example.com/upload"));
        assert!(destination("https://rec.example.com:8443/upload?x=1"));
        assert!(destination("ftp://rec.example.com/in/"));
        assert!(destination("ftps://user:s3cret@rec.example.com:990/in/"));
        assert!(destination("ftp://anonymous@10.1.2.3/"));
        assert!(destination("HTTPS://rec.example.com/"));
    }

    #[test]
    fn refuses_other_schemes_and_malformed_urls() {
        for url in [
            "file:///etc/passwd",
            "gopher://example.com/",
            "sftp://example.com/",
            "example.com/upload",
            "//example.com/upload",
            "http:/example.com",
            "http://",
            "http:///path",
            "ftp://user:pass@/path",
            "http://exa mple.com/",
            "http://example.com/a b",
            "http://example.com/\n",
            "http://example.com:99999/",
            "http://[::1/",
            "http:\\\\example.com",
            "",
        ] {
            assert!(!destination(url), "{url} should be refused");
        }
    }

    #[test]
    fn refuses_this_machine_unless_allowed() {
        for url in [
            "http://localhost/x",
            "http://LOCALHOST./x",
            "https://127.0.0.1:8080/x",
            "ftp://u:p@127.0.0.1/x",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::]/",
            "http://[0:0:0:0:0:0:0:1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://127.1/",
            "http://0x7f.0.0.1/",
            "http://2130706433/",
        ] {
            assert!(!destination(url), "{url} should be refused");
            assert!(
                is_acceptable(url, UrlKind::Destination, true),
                "{url} with the flag"
            );
        }
    }

    #[test]
    fn other_loopback_addresses_are_not_named_by_the_rule() {
        assert!(destination("http://127.0.0.2:9000/upload"));
    }

    #[test]
    fn callbacks_stay_http() {
        assert!(is_acceptable(
            "https://hooks.example.com/",
            UrlKind::Callback,
            false
        ));
        assert!(!is_acceptable(
            "ftp://hooks.example.com/",
            UrlKind::Callback,
            false
        ));
    }
}

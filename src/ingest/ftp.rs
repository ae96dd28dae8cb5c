//! FTP/FTPS delivery of per-settings `url` recordings.
//!
//! [`upload`] stores one recording at an `ftp://` (plain) or `ftps://` (explicit TLS, `AUTH
//! TLS`, with a protected data channel) URL: passive mode, binary type, credentials from the
//! URL's userinfo (else anonymous), the directory part of the path created when missing, the
//! file streamed from disk. Errors are plain strings for the delivery record; they never
//! contain the password.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use suppaftp::tokio::{AsyncFtpStream, AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::tokio::{AsyncNoTlsStream, ImplAsyncFtpStream, TokioTlsStream};
use suppaftp::types::FileType;
use suppaftp::FtpError;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;
use url::{Host, Url};

/// Bound on resolving the host, connecting and reading the server's greeting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Base bound on the whole upload; one more second is allowed per MB of file.
const UPLOAD_BASE_TIMEOUT: Duration = Duration::from_secs(300);

/// Upload `file` to `target` (e.g. `ftps://user:pass@host:port/dir/call_recording_X.mp3`).
///
/// `ftp` = plain, `ftps` = explicit TLS (`AUTH TLS`), passive mode, binary type; credentials
/// from the URL userinfo (percent-decoded), else anonymous / `kazoo_rec@<hostname>`; the
/// directory part of the path is created if missing (`MKD` each segment, ignoring "exists"),
/// then `CWD` into it and `STOR` the file name. Streams the file (never reads it whole into
/// memory). `ca_file` is an optional PEM CA certificate trusted for FTPS in addition to the
/// platform roots. Returns `Err` with a clear message (never containing the password).
pub async fn upload(
    target: &str,
    file: tokio::fs::File,
    ca_file: Option<&str>,
) -> Result<(), String> {
    let t = Target::parse(target)?;
    let size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let deadline = UPLOAD_BASE_TIMEOUT + Duration::from_secs(size / 1_000_000);
    let result = match tokio::time::timeout(deadline, run(&t, file, ca_file)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "upload did not finish within {} s",
            deadline.as_secs()
        )),
    };
    result.map_err(|msg| {
        let msg = format!("{} {}: {}", t.scheme(), t.authority(), msg);
        t.redact(msg)
    })
}

/// A parsed, validated `ftp(s)://` destination.
struct Target {
    tls: bool,
    /// Host as used for DNS and the TLS server name (IPv6 without brackets).
    host: String,
    port: u16,
    user: String,
    password: String,
    dirs: Vec<String>,
    file_name: String,
}

impl Target {
    fn parse(target: &str) -> Result<Self, String> {
        // The URL itself may carry the password: never echo it, nor the parser's opinion of it.
        let url = Url::parse(target).map_err(|e| format!("invalid ftp url: {e}"))?;
        let tls = match url.scheme() {
            "ftp" => false,
            "ftps" => true,
            other => return Err(format!("unsupported scheme {other:?} for ftp delivery")),
        };
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err("ftp url has no host".into()),
        };
        let port = url.port().unwrap_or(21);
        let password = decode(url.password().unwrap_or(""), "password")?;
        let (user, password) = if url.username().is_empty() {
            ("anonymous".to_owned(), format!("kazoo_rec@{}", hostname()))
        } else {
            (decode(url.username(), "user name")?, password)
        };
        let mut segments = url
            .path_segments()
            .map(|s| s.collect::<Vec<_>>())
            .unwrap_or_default();
        let file_name = decode(segments.pop().unwrap_or(""), "file name")?;
        if file_name.is_empty() || file_name == "." || file_name == ".." {
            return Err("ftp url has no file name".into());
        }
        let dirs = segments
            .into_iter()
            .filter(|s| !s.is_empty() && *s != ".")
            .map(|s| decode(s, "directory"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tls,
            host,
            port,
            user,
            password,
            dirs,
            file_name,
        })
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "ftps"
        } else {
            "ftp"
        }
    }

    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Removes the password from a message (servers may echo odd things back).
    fn redact(&self, msg: String) -> String {
        if self.password.is_empty() {
            msg
        } else {
            msg.replace(&self.password, "***")
        }
    }
}

/// Percent-decodes one URL component into something safe to put on the control connection
/// (no line breaks or NUL; no `/` inside a path segment).
fn decode(raw: &str, what: &str) -> Result<String, String> {
    let s = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| format!("ftp url {what} is not valid UTF-8"))?;
    let is_path = !matches!(what, "user name" | "password");
    if s.contains(['\r', '\n', '\0']) || (is_path && s.contains('/')) {
        return Err(format!("ftp url {what} contains a forbidden character"));
    }
    Ok(s.into_owned())
}

/// This machine's host name, for the anonymous password.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn run(t: &Target, file: tokio::fs::File, ca_file: Option<&str>) -> Result<(), String> {
    if t.tls {
        let connector = tls_connector(ca_file)?;
        let ftp: AsyncRustlsFtpStream = connect(t).await?;
        let ftp = ftp
            .into_secure(connector, &t.host)
            .await
            .map_err(|e| format!("TLS negotiation (AUTH TLS) failed: {}", describe(&e)))?;
        transfer(t, ftp, file).await
    } else {
        let ftp: AsyncFtpStream = connect(t).await?;
        transfer::<AsyncNoTlsStream>(t, ftp, file).await
    }
}

/// Resolves, connects (trying every address) and reads the greeting, within [`CONNECT_TIMEOUT`].
async fn connect<T: TokioTlsStream + Send>(t: &Target) -> Result<ImplAsyncFtpStream<T>, String> {
    let attempt = async {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((t.host.as_str(), t.port))
            .await
            .map_err(|e| format!("cannot resolve host: {e}"))?
            .collect();
        let mut last = String::from("host has no address");
        for addr in addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => {
                    return ImplAsyncFtpStream::<T>::connect_with_stream(stream)
                        .await
                        .map_err(|e| format!("no FTP greeting: {}", describe(&e)));
                }
                Err(e) => last = format!("cannot connect: {e}"),
            }
        }
        Err(last)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// Logs in, creates/enters the directories and stores the file; then says goodbye.
async fn transfer<T: TokioTlsStream + Send>(
    t: &Target,
    mut ftp: ImplAsyncFtpStream<T>,
    mut file: tokio::fs::File,
) -> Result<(), String> {
    // PASV answers behind NAT often carry a private address: use the control connection's peer.
    ftp.set_passive_nat_workaround(true);
    ftp.login(t.user.as_str(), t.password.as_str())
        .await
        .map_err(|e| format!("login as {:?} failed: {}", t.user, describe(&e)))?;
    ftp.transfer_type(FileType::Binary)
        .await
        .map_err(|e| format!("TYPE I refused: {}", describe(&e)))?;
    for dir in &t.dirs {
        if ftp.cwd(dir).await.is_ok() {
            continue;
        }
        // Missing (or not enterable): create it; "already exists" races are fine, CWD decides.
        let mkd = ftp.mkdir(dir).await.err();
        ftp.cwd(dir).await.map_err(|e| {
            let why = mkd.map_or_else(|| describe(&e), |m| describe(&m));
            format!("cannot create or enter directory {dir:?}: {why}")
        })?;
    }
    let sent = ftp
        .put_file(t.file_name.as_str(), &mut file)
        .await
        .map_err(|e| format!("STOR {:?} failed: {}", t.file_name, describe(&e)))?;
    tracing::debug!(bytes = sent, host = %t.host, file = %t.file_name, "ftp upload done");
    // The file is stored once STOR completed; a failing QUIT changes nothing.
    let _ = ftp.quit().await;
    Ok(())
}

/// A TLS connector trusting the platform roots plus `ca_file` (PEM), with the ring provider
/// chosen explicitly (several rustls providers are compiled into this binary).
fn tls_connector(ca_file: Option<&str>) -> Result<AsyncRustlsConnector, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A broken platform certificate must not stop delivery; skip it.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read FTPS CA file {path}: {e}"))?;
        let mut added = 0;
        for cert in certs {
            let cert = cert.map_err(|e| format!("invalid FTPS CA file {path}: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("invalid certificate in FTPS CA file {path}: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("FTPS CA file {path} holds no certificate"));
        }
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)).into())
}

/// A readable form of an FTP error (server replies as text, not byte lists).
fn describe(e: &FtpError) -> String {
    match e {
        FtpError::UnexpectedResponse(r) => {
            let body = String::from_utf8_lossy(&r.body);
            format!("server answered {}", body.trim())
        }
        // suppaftp nests its own "Secure error: " prefix; say it once.
        FtpError::SecureError(msg) => msg.trim_start_matches("Secure error: ").to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_and_path() {
        let t = Target::parse("ftps://us%40er:p%3Ass@host.example:2121/a/b%20c/x.mp3").unwrap();
        assert!(t.tls);
        assert_eq!(t.host, "host.example");
        assert_eq!(t.port, 2121);
        assert_eq!(t.user, "us@er");
        assert_eq!(t.password, "p:ss");
        assert_eq!(t.dirs, ["a", "b c"]);
        assert_eq!(t.file_name, "x.mp3");
    }

    #[test]
    fn anonymous_default_port_and_root() {
        let t = Target::parse("ftp://[::1]/x.mp3").unwrap();
        assert!(!t.tls);
        assert_eq!(t.host, "::1");
        assert_eq!(t.authority(), "[::1]:21");
        assert_eq!(t.user, "anonymous");
        assert!(t.password.starts_with("kazoo_rec@"));
        assert!(t.dirs.is_empty());
    }

    #[test]
    fn rejects_bad_targets() {
        for bad in [
            "http://h/x",
            "ftp://h/dir/",
            "ftp:///x",
            "ftp://h/a%0D%0ADELE%20x/y",
            "ftp://h/a%2Fb/y",
            "not a url",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn errors_never_contain_the_password() {
        let file = tokio::fs::File::open("Cargo.toml").await.unwrap();
        let err = upload("ftp://u:s3cr3tpw@127.0.0.1:1/x.mp3", file, None)
            .await
            .unwrap_err();
        assert!(!err.contains("s3cr3tpw"), "{err}");
        assert!(err.contains("127.0.0.1:1"), "{err}");
    }
}

//! Logging set up in one place. `RUST_LOG` overrides the default filter.

/// `info`, except actix's HTTP/1 dispatcher: it logs every malformed request a client
/// sends at ERROR ("stream error: …") after answering it 400 itself, so any client could
/// fill the log with errors. Broken response streams are logged by `api::render_reply`.
pub const DEFAULT_FILTER: &str = "info,actix_http::h1::dispatcher=off";

pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn client_caused_dispatcher_errors_are_not_logged_ours_are() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(super::DEFAULT_FILTER))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: invalid header");
            tracing::error!(target: "actix_server::worker", "worker stopped");
            tracing::info!(target: "kazoo_rec::ingest::worker", "recording delivered");
            tracing::debug!(target: "kazoo_rec::ingest::worker", "noise");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("invalid header"), "{text}");
        assert!(
            text.contains("worker stopped") && text.contains("recording delivered"),
            "{text}"
        );
        assert!(!text.contains("noise"), "{text}");
    }
}

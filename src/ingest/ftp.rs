//! FTP/FTPS delivery of per-settings `url` recordings.
//!
//! Not written yet: an ftp(s) job is refused here with a clear error, so it stays in the
//! spool (never lost, visible in `att_handlers_errors` and the spool metrics) until this
//! lands. See the README's "what does not work yet".

pub async fn upload(
    _target: &str,
    _file: tokio::fs::File,
    _ca_file: Option<&str>,
) -> Result<(), String> {
    Err(
        "ftp/ftps delivery is not implemented yet in this version; the recording stays spooled"
            .into(),
    )
}

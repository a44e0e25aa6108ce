//! TLS to the providers: rustls with ring, trusting the web's public roots (webpki-roots) and
//! the certificate authorities the channels file names (`[tls] ca_files`: a bank's own relay
//! or gateway, or the test harness's). One client configuration serves every HTTPS provider,
//! SMTPS and STARTTLS.

use std::sync::Arc;

use lettre::transport::smtp::client::{AsyncTokioStream, Certificate, TlsParameters};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use super::config::{ChannelsConfig, ConfigError};

/// The TLS settings of a dispatcher.
#[derive(Clone)]
pub struct Tls {
    /// For HTTPS and SMTPS.
    pub(crate) client: Arc<rustls::ClientConfig>,
    /// The extra authorities as PEM, for lettre's STARTTLS.
    extra_pem: Vec<Vec<u8>>,
}

impl Tls {
    /// The public roots and the configured CA files; a file that cannot be read or holds no
    /// certificate is a startup error naming it.
    pub fn load(config: &ChannelsConfig) -> Result<Tls, ConfigError> {
        let invalid = |detail: String| ConfigError::Invalid { path: config.path.clone(), detail };
        let (client, extra_pem) = client_config(&config.tls.ca_files).map_err(invalid)?;
        Ok(Tls { client, extra_pem })
    }

    /// lettre's parameters for STARTTLS with `host`.
    pub(crate) fn starttls(&self, host: &str) -> Result<TlsParameters, String> {
        let mut b = TlsParameters::builder(host.to_string());
        for pem in &self.extra_pem {
            b = b.add_root_certificate(Certificate::from_pem(pem).map_err(|e| e.to_string())?);
        }
        b.build_rustls().map_err(|e| format!("TLS for {host}: {e}"))
    }

    /// A TLS session over `tcp` with `host` (implicit TLS: SMTPS).
    pub(crate) async fn wrap(&self, host: &str, tcp: tokio::net::TcpStream) -> Result<TlsTcp, String> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::clone(&self.client))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        Ok(TlsTcp(stream))
    }
}

/// The client configuration: the web's public roots and the authorities in `ca_files`, with
/// the PEM of those files; a file that cannot be read or holds no certificate is an error
/// naming it. Shared by the channels and the event webhooks.
pub fn client_config(ca_files: &[String]) -> Result<(Arc<rustls::ClientConfig>, Vec<Vec<u8>>), String> {
    let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let mut extra_pem = Vec::new();
    for file in ca_files {
        let pem = std::fs::read(file).map_err(|e| format!("[tls] ca_files {file:?}: {e}"))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("[tls] ca_files {file:?}: not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err(format!("[tls] ca_files {file:?}: no certificate in it"));
        }
        for c in certs {
            roots.add(c).map_err(|e| format!("[tls] ca_files {file:?}: {e}"))?;
        }
        extra_pem.push(pem);
    }
    // ring rather than aws-lc-rs (rustls' default, which now marks ring deprecated for its
    // lack of post-quantum key exchange): ring builds in seconds with the C compiler any
    // machine has; the providers' endpoints negotiate classical key exchange today.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(client), extra_pem))
}

/// A TLS session over TCP, as lettre's client takes a stream.
#[derive(Debug)]
pub(crate) struct TlsTcp(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

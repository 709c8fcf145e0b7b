//! TLS to PostgreSQL, as libpq does it: the URL's `sslmode` and
//! `sslrootcert` decide whether a connection is encrypted and what the
//! server's certificate must prove.
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | never | — |
//! | `allow`, `prefer` (the default) | if the server offers it | no (with `sslrootcert`: the chain) |
//! | `require` | always | no (with `sslrootcert`: the chain, as libpq does) |
//! | `verify-ca` | always | chains to `sslrootcert` |
//! | `verify-full` | always | chains to `sslrootcert` and names the host |
//!
//! `sslrootcert` is a PEM file of CA certificates (RDS's bundle, or the
//! local pair's CA), or `system` for the operating system's store; it
//! defaults to `PGSSLROOTCERT`, and `sslmode` to `PGSSLMODE`. `allow` is
//! treated as `prefer`: both try TLS first.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;

pub use tokio_postgres_rustls::MakeRustlsConnect as Connector;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, String> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// Where the trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    File(PathBuf),
    System,
}

/// The TLS half of a connection URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
}

impl TlsSettings {
    /// What the chain must prove: `None` checks nothing, `Some(false)` the
    /// chain, `Some(true)` the chain and the host name.
    fn verification(&self) -> Option<bool> {
        match (self.mode, &self.root_cert) {
            (SslMode::Disable, _) => None,
            (SslMode::VerifyFull, _) => Some(true),
            (SslMode::VerifyCa, _) => Some(false),
            // libpq: with a root certificate, require (and prefer) check the chain.
            (SslMode::Prefer | SslMode::Require, Some(_)) => Some(false),
            (SslMode::Prefer | SslMode::Require, None) => None,
        }
    }

    /// What tokio-postgres is told: whether TLS is tried, and whether it must succeed.
    pub(crate) fn wire_mode(&self) -> WireMode {
        match self.mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        }
    }

    /// The rustls connector for these settings: reads `sslrootcert` now, so
    /// a missing or empty file is reported at start-up, not on first use.
    pub fn connector(&self) -> Result<Connector, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up failed: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match self.verification() {
            None => Arc::new(AnyCertificate(provider)),
            Some(check_name) => {
                let roots = match &self.root_cert {
                    Some(root) => load_roots(root)?,
                    None => {
                        return Err(format!(
                            "sslmode={} needs sslrootcert: add &sslrootcert=/path/to/ca.pem (a PEM \
                             file of CA certificates, such as the RDS bundle) or sslrootcert=system",
                            self.mode.as_str()
                        ));
                    }
                };
                let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                    .build()
                    .map_err(|e| format!("TLS set-up failed: {e}"))?;
                if check_name {
                    webpki
                } else {
                    Arc::new(ChainOnly(webpki))
                }
            }
        };
        let config = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Connector::new(config))
    }
}

fn load_roots(root: &RootCert) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match root {
        RootCert::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no usable CA certificate; it must be a PEM file of certificates",
                    path.display()
                ));
            }
        }
        RootCert::System => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("sslrootcert=system, but the system has no CA certificates".into());
            }
        }
    }
    Ok(store)
}

/// Splits a connection string into what tokio-postgres understands and the
/// TLS settings it does not (`sslmode` beyond `require`, `sslrootcert`).
/// Takes URLs (`postgres://…?sslmode=verify-full&sslrootcert=…`) and
/// `key=value` strings.
pub fn split(url: &str) -> Result<(String, TlsSettings), String> {
    let mut mode = None;
    let mut root_cert = None;
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| format!("the URL's {key} is not UTF-8"))?;
            match key {
                "sslmode" => mode = Some(SslMode::parse(&value)?),
                "sslrootcert" => root_cert = Some(value.into_owned()),
                _ => kept.push(pair),
            }
        }
        if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for word in url.split_whitespace() {
            match word.split_once('=') {
                Some(("sslmode", value)) => mode = Some(SslMode::parse(value)?),
                Some(("sslrootcert", value)) => root_cert = Some(value.to_owned()),
                _ => kept.push(word),
            }
        }
        kept.join(" ")
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mode = match mode {
        Some(mode) => mode,
        None => match env("PGSSLMODE") {
            Some(value) => SslMode::parse(&value).map_err(|e| format!("PGSSLMODE: {e}"))?,
            None => SslMode::Prefer,
        },
    };
    let root_cert = root_cert.or_else(|| env("PGSSLROOTCERT")).map(|value| {
        if value == "system" {
            RootCert::System
        } else {
            RootCert::File(PathBuf::from(value))
        }
    });
    Ok((rest, TlsSettings { mode, root_cert }))
}

/// `prefer` and `require` without a root certificate: the link is
/// encrypted, and the handshake's signatures are checked, but the
/// certificate is not (libpq's behaviour).
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted CA; the name may differ.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_settings_are_taken_out_and_the_rest_kept() {
        let (rest, tls) = split(
            "postgres://u:p%40ss@db:5432/shop?sslmode=verify-full&application_name=x&sslrootcert=%2Fopt%2Fca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u:p%40ss@db:5432/shop?application_name=x");
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(RootCert::File("/opt/ca.pem".into())));
        assert_eq!(tls.wire_mode(), WireMode::Require);

        let (rest, tls) = split("host=db user=u sslmode=disable").unwrap();
        assert_eq!(rest, "host=db user=u");
        assert_eq!(tls.mode, SslMode::Disable);
        assert_eq!(tls.wire_mode(), WireMode::Disable);
    }

    #[test]
    fn modes_follow_libpq() {
        let settings = |url: &str| split(url).unwrap().1;
        assert_eq!(
            settings("postgres://db/x?sslmode=require").verification(),
            None
        );
        assert_eq!(
            settings("postgres://db/x?sslmode=require&sslrootcert=/ca.pem").verification(),
            Some(false),
            "require with a root certificate checks the chain, as libpq does"
        );
        assert_eq!(
            settings("postgres://db/x?sslmode=verify-ca&sslrootcert=system").verification(),
            Some(false)
        );
        assert_eq!(
            settings("postgres://db/x?sslmode=allow").wire_mode(),
            WireMode::Prefer
        );
        let err = split("postgres://db/x?sslmode=verify").unwrap_err();
        assert!(err.contains("verify-full"), "{err}");
    }

    #[test]
    fn verifying_without_a_root_certificate_says_what_to_add() {
        let (_, tls) = split("postgres://db/x?sslmode=verify-full").unwrap();
        let err = tls.connector().err().unwrap();
        assert!(err.contains("sslrootcert"), "{err}");
        let (_, tls) =
            split("postgres://db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap();
        let err = tls.connector().err().unwrap();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}

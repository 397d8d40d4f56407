//! TLS for the suite, whatever the runtime: a self-signed certificate for
//! `localhost` made at test time, and rustls configs that serve it and
//! trust only it. Both configs name the ring provider explicitly, so no
//! process-wide default is installed and tests running in parallel cannot
//! race to install one.

use std::sync::Arc;

use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The name the certificate is issued to, and the client connects to.
const SERVER_NAME: &str = "localhost";

/// A fresh self-signed certificate for [`server_name`]: the server's
/// config presenting it, and a client's config trusting it alone.
///
/// # Panics
/// When the certificate cannot be made or a config refuses it.
pub fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()])
            .expect("generating a self-signed certificate");
    let key = PrivatePkcs8KeyDer::from(signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());

    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key.into())
        .expect("a server config with the certificate");

    let mut roots = RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .expect("trusting the certificate");
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();

    (Arc::new(server), Arc::new(client))
}

/// The server name the client asks for: `localhost`.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from(SERVER_NAME).expect("localhost is a valid server name")
}

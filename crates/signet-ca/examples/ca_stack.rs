//! Serves the CA, the TSA and the development OIDC issuer on one loopback port, for
//! trying clients against them until `signet serve` mounts these routers itself.
//!
//! ```text
//! cargo run -p signet-ca --example ca_stack -- DATA_DIR [PORT]
//! ```
//!
//! It writes, under `DATA_DIR/trust-ca/`: `trusted_root.json` (CA, CT log, TSA; no
//! tlogs), `ca_chain.pem` (intermediate + root: cosign's `SIGSTORE_ROOT_FILE`),
//! `ctlog.pub` (`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`), `tsa_chain.pem`, and `token` (a
//! development token for `dev@example.com`), then prints one line per service.

use std::path::PathBuf;

use signet_ca::{CaConfig, CaService, DevOidc, TsaConfig, TsaService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let data_dir = PathBuf::from(args.next().ok_or("usage: ca_stack DATA_DIR [PORT]")?);
    let port: u16 = args.next().map_or(Ok(0), |p| p.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://{}", listener.local_addr()?);

    let dev = DevOidc::open(&data_dir, &base)?;
    let ca = CaService::open(&data_dir, CaConfig::with_issuers(vec![dev.issuer_config()]))?;
    let tsa = TsaService::open(&data_dir, TsaConfig::default())?;
    let tsa_url = format!("{base}/api/v1/timestamp");

    let trust = data_dir.join("trust-ca");
    std::fs::create_dir_all(&trust)?;
    let root = signet_ca::trusted_root(&ca, &base, Some((&tsa, &tsa_url)), Vec::new());
    std::fs::write(trust.join("trusted_root.json"), root.to_json())?;
    std::fs::write(trust.join("ca_chain.pem"), ca.chain_pem())?;
    std::fs::write(trust.join("ctlog.pub"), ca.ct_log_public_key().to_pem())?;
    std::fs::write(trust.join("tsa_chain.pem"), tsa.chain_pem())?;
    std::fs::write(trust.join("token"), dev.mint("dev@example.com", None)?)?;

    let app = ca
        .router()
        .merge(tsa.router())
        .merge(dev.router())
        .fallback(signet_ca::not_found);
    println!("ca {base}");
    println!("tsa {tsa_url}");
    println!("oidc {}", dev.issuer_url());
    axum::serve(listener, app).await?;
    Ok(())
}

//! `gavel keys generate` and `gavel public-key`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use gavel::StateDir;
use gavel::keyfile;
use gavel_receipt::keys::{OperatorKey, public_hex, public_jwk, public_jwks, public_pem};
use serde_json::json;

use crate::failure::CmdResult;

/// `gavel keys generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Where to write the new PKCS#8 PEM key (mode 0600; never overwritten).
    /// Default: keys/issuer.pem in the state directory.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print kid, public key and path as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn generate(state: &StateDir, args: &GenerateArgs) -> CmdResult {
    let path = args.out.clone().unwrap_or_else(|| state.default_key());
    let key = OperatorKey::generate()?;
    keyfile::write_new(&path, &key)?;
    let vk = key.verifying_key();
    if args.json {
        println!(
            "{}",
            json!({"path": path, "kid": key.kid(), "public_key": public_hex(&vk)})
        );
    } else {
        println!("created operator key {} (mode 0600)", path.display());
        println!("kid:        {}", key.kid());
        println!("public key: {}", public_hex(&vk));
    }
    Ok(0)
}

/// Output formats of `gavel public-key`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyFormat {
    /// 64 lowercase hex characters.
    Hex,
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    Pem,
    /// A JWK (OKP, Ed25519) with the key id.
    Jwk,
    /// A JWKS holding that JWK.
    Jwks,
}

/// `gavel public-key`
#[derive(Debug, Args)]
pub struct PublicKeyArgs {
    /// The operator key (PKCS#8 PEM or hex seed). Default: keys/issuer.pem in the state directory.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "hex")]
    pub format: KeyFormat,
}

pub fn public_key(state: &StateDir, args: &PublicKeyArgs) -> CmdResult {
    let path = args.key.clone().unwrap_or_else(|| state.default_key());
    let key = keyfile::load(&path)?;
    let vk = key.verifying_key();
    match args.format {
        KeyFormat::Hex => println!("{}", public_hex(&vk)),
        KeyFormat::Pem => print!("{}", public_pem(&vk)),
        KeyFormat::Jwk => println!(
            "{}",
            serde_json::to_string_pretty(&public_jwk(&vk, key.kid())).unwrap_or_default()
        ),
        KeyFormat::Jwks => println!(
            "{}",
            serde_json::to_string_pretty(&public_jwks(&vk, key.kid())).unwrap_or_default()
        ),
    }
    Ok(0)
}

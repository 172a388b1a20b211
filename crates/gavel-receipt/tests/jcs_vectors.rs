//! RFC 8785 conformance on the RFC's own test files and the Veritas Acta vectors.

use gavel_receipt::jcs::{JcsError, canonicalize, canonicalize_for_signing, parse_strict};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

fn data(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
}

#[test]
fn rfc8785_files_byte_for_byte() {
    let mut n = 0;
    for entry in std::fs::read_dir(data("jcs/input")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let input = std::fs::read(&path).unwrap();
        let expected = std::fs::read(data(&format!("jcs/output/{name}.json"))).unwrap();
        let hex_text = std::fs::read_to_string(data(&format!("jcs/outhex/{name}.txt"))).unwrap();
        let expected_hex: Vec<u8> = hex_text
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let got = canonicalize(&parse_strict(&input).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected),
            "{name}: output differs"
        );
        assert_eq!(got, expected_hex, "{name}: bytes differ from outhex");
        n += 1;
    }
    assert_eq!(n, 6, "all six RFC 8785 test files");
}

#[test]
fn veritasacta_vectors() {
    let doc: Value =
        serde_json::from_slice(&std::fs::read(data("veritasacta/jcs-test-vectors.json")).unwrap())
            .unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    let mut checked = 0;
    let mut rejected = 0;
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        if let Some(expected_err) = v.get("expected").and_then(|e| e.get("error")) {
            match canonicalize_for_signing(&v["input"]) {
                Err(e @ JcsError::NonAsciiKey(_)) => {
                    assert_eq!(e.to_string(), expected_err.as_str().unwrap(), "{name}");
                    rejected += 1;
                }
                other => panic!("{name}: expected a rejection, got {other:?}"),
            }
            continue;
        }
        let got = canonicalize_for_signing(&v["input"]).unwrap();
        assert_eq!(
            std::str::from_utf8(&got).unwrap(),
            v["canonical"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(
            hex::encode(Sha256::digest(&got)),
            v["sha256"].as_str().unwrap(),
            "{name}"
        );
        checked += 1;
    }
    assert_eq!((checked, rejected), (vectors.len() - 1, 1));
}

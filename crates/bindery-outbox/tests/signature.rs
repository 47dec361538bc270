//! Checks the signing helpers against the Standard Webhooks test vector, so
//! that receivers using any of the spec's libraries accept what we send.

use bindery_outbox::{sign, verify, SignatureHeaders, VerifyError};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP: i64 = 1614265330;
const BODY: &[u8] = br#"{"test": 2432232314}"#;
const EXPECTED: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn headers(signature: &str) -> SignatureHeaders<'_> {
    SignatureHeaders { id: ID, timestamp: "1614265330", signature }
}

#[test]
fn sign_matches_the_spec_vector() {
    assert_eq!(sign(SECRET, ID, TIMESTAMP, BODY).unwrap(), EXPECTED);
}

#[test]
fn verify_accepts_the_spec_vector() {
    verify(SECRET, &headers(EXPECTED), BODY, TIMESTAMP, 300).unwrap();
    // Slightly late and slightly early clocks are both within tolerance.
    verify(SECRET, &headers(EXPECTED), BODY, TIMESTAMP + 299, 300).unwrap();
    verify(SECRET, &headers(EXPECTED), BODY, TIMESTAMP - 299, 300).unwrap();
}

#[test]
fn verify_accepts_any_of_several_signatures() {
    let header = format!("v1,Zm9vYmFy v1a,ignored {EXPECTED}");
    verify(SECRET, &headers(&header), BODY, TIMESTAMP, 300).unwrap();
}

#[test]
fn verify_rejects_a_tampered_body() {
    let err = verify(SECRET, &headers(EXPECTED), br#"{"test": 2432232315}"#, TIMESTAMP, 300).unwrap_err();
    assert_eq!(err, VerifyError::NoMatchingSignature);
}

#[test]
fn verify_rejects_a_wrong_secret() {
    let err = verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &headers(EXPECTED), BODY, TIMESTAMP, 300).unwrap_err();
    assert_eq!(err, VerifyError::NoMatchingSignature);
}

#[test]
fn verify_rejects_stale_and_future_timestamps() {
    for now in [TIMESTAMP + 301, TIMESTAMP - 301] {
        let err = verify(SECRET, &headers(EXPECTED), BODY, now, 300).unwrap_err();
        assert!(matches!(err, VerifyError::StaleTimestamp { .. }), "{err}");
    }
}

#[test]
fn verify_rejects_a_changed_id_or_timestamp() {
    let other_id = SignatureHeaders { id: "msg_other", ..headers(EXPECTED) };
    assert!(verify(SECRET, &other_id, BODY, TIMESTAMP, 300).is_err());
    let other_time = SignatureHeaders { timestamp: "1614265331", ..headers(EXPECTED) };
    assert!(verify(SECRET, &other_time, BODY, TIMESTAMP, 300).is_err());
    let garbage = SignatureHeaders { timestamp: "soon", ..headers(EXPECTED) };
    assert_eq!(verify(SECRET, &garbage, BODY, TIMESTAMP, 300).unwrap_err(), VerifyError::InvalidTimestamp);
}

#[test]
fn raw_secrets_sign_and_verify() {
    let signature = sign("plain shared secret", ID, TIMESTAMP, BODY).unwrap();
    verify("plain shared secret", &headers(&signature), BODY, TIMESTAMP, 300).unwrap();
    assert!(verify(SECRET, &headers(&signature), BODY, TIMESTAMP, 300).is_err());
}

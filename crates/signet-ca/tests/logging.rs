//! What the services log: a WARNING when the development issuer starts, and one line
//! per rejected token or request with the reason and never the token. (Its own test
//! binary: tracing's per-callsite interest cache makes scoped subscribers unreliable
//! when other tests log on other threads.)

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{b64url_json, csr_field, new_key, now, proof_request, start};

/// A subscriber that keeps every event as one line of `field=value`s.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!(" {}={value:?}", field.name()));
            }
        }
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn warnings_and_rejections_are_logged_without_tokens() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());
    let stack = start().await;
    let email = "eve@example.com";
    let key = new_key();
    let csr = json!({ "certificateSigningRequest": csr_field(&key) });
    let mut expired = stack.claims(email);
    expired["exp"] = json!(now() - 3600);
    let expired = stack.sign(&expired);
    let none = format!(
        "{}.{}.",
        b64url_json(&json!({"alg": "none"})),
        b64url_json(&stack.claims(email))
    );
    for token in [&expired, &none] {
        let (status, _) = stack
            .post_json("/api/v2/signingCert", &csr, Some(token))
            .await;
        assert_eq!(status, 401);
    }
    let good = stack.dev.mint(email, None).unwrap();
    let other = new_key();
    let (status, _) = stack
        .post_json(
            "/api/v2/signingCert",
            &proof_request(&good, &key, &other, email),
            None,
        )
        .await;
    assert_eq!(status, 400);

    let lines = capture.0.lock().unwrap().clone();
    let warning: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("development OIDC issuer is ON"))
        .collect();
    assert_eq!(warning.len(), 1, "{lines:#?}");
    assert!(warning[0].starts_with("WARN"));
    let rejected: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("rejected identity token"))
        .collect();
    assert_eq!(rejected.len(), 2, "{lines:#?}");
    assert!(rejected[0].contains("expired at"), "{}", rejected[0]);
    assert!(
        rejected[1].contains("\"none\" is not accepted"),
        "{}",
        rejected[1]
    );
    let requests: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("rejected certificate request"))
        .collect();
    assert_eq!(requests.len(), 1, "{lines:#?}");
    assert!(requests[0].contains("proof of possession") && requests[0].contains(email));
    for line in &lines {
        assert!(!line.contains('\n'), "one line each: {line}");
        for token in [&expired, &none, &good] {
            // Not even the signature part of a token appears.
            let signature = token.rsplit('.').next().unwrap();
            assert!(signature.is_empty() || !line.contains(signature), "{line}");
            assert!(!line.contains(token.as_str()), "{line}");
        }
    }
}

//! The interactive flows against a scripted issuer on 127.0.0.1, the browser being the
//! test itself (it reads the authorization URL from the prompt and calls the redirect).

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use super::*;
use crate::keyless::token::{TokenOptions, TokenSource, find_token};

fn jwt(claims: &Value) -> String {
    let e = |s: &str| URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.c2ln",
        e(r#"{"alg":"ES256"}"#),
        e(&claims.to_string())
    )
}

/// One request the scripted issuer received.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    form: HashMap<String, String>,
    at: Instant,
}

type Handler = dyn Fn(&Seen, &str) -> (u16, Value) + Send + Sync;

/// A scripted HTTP issuer: discovery at `/.well-known/openid-configuration` (issuer =
/// its own URL unless `handler` answers otherwise), everything else from `handler`.
struct Issuer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Issuer {
    async fn start(
        handler: impl Fn(&Seen, &str) -> (u16, Value) + Send + Sync + 'static,
    ) -> Issuer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (base, log) = (url.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (handler, base, log) = (handler.clone(), base.clone(), log.clone());
                tokio::spawn(async move { serve_one(stream, &*handler, &base, &log).await });
            }
        });
        Issuer { url, seen }
    }

    fn seen(&self, prefix: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.target.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints {
            issuer: self.url.clone(),
            authorization_endpoint: Some(format!("{}/authorize", self.url)),
            token_endpoint: format!("{}/token", self.url),
            device_authorization_endpoint: Some(format!("{}/device", self.url)),
        }
    }

    fn oidc(&self) -> OidcClient {
        OidcClient::new(self.url.clone())
    }
}

async fn serve_one(mut stream: TcpStream, handler: &Handler, base: &str, log: &Mutex<Vec<Seen>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_len, length) = loop {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            break (i + 4, length);
        }
    };
    while buf.len() < head_len + length {
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("/").to_string();
    let form = form_urlencoded::parse(&buf[head_len..head_len + length])
        .into_owned()
        .collect();
    let seen = Seen {
        target: target.clone(),
        form,
        at: Instant::now(),
    };
    log.lock().unwrap().push(seen.clone());
    let (status, body) = if target == "/.well-known/openid-configuration" {
        let answer = handler(&seen, base);
        if answer.0 == 0 {
            (
                200,
                serde_json::json!({
                    "issuer": base,
                    "authorization_endpoint": format!("{base}/authorize"),
                    "token_endpoint": format!("{base}/token"),
                    "device_authorization_endpoint": format!("{base}/device"),
                }),
            )
        } else {
            answer
        }
    } else {
        handler(&seen, base)
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Discovery as the default; 404 for anything else.
fn nothing_else(_: &Seen, _: &str) -> (u16, Value) {
    (0, Value::Null)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Runs the browser flow; `browser` gets the authorization URL's parameters and
/// returns the query the "browser" is redirected back with (`None`: never comes back).
async fn browser(
    issuer: &Issuer,
    wait: Duration,
    browser: impl FnOnce(&HashMap<String, String>) -> Option<String> + Send + 'static,
) -> (Result<IdentityToken, KeylessError>, Option<(u16, String)>) {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let mut tx = Some(tx);
    let mut prompt = move |p: &Prompt<'_>| {
        if let Prompt::Browser { url } = p {
            tx.take().unwrap().send(url.to_string()).unwrap();
        }
    };
    let visit = tokio::spawn(async move {
        let url = rx.await.unwrap();
        let params = query(&url);
        let back = browser(&params)?;
        // An idle connection (a browser's speculative one) delays nothing, and a stray
        // request (browsers ask for a favicon) is not the callback.
        let redirect = Url::parse(&params["redirect_uri"]).unwrap();
        let _idle = TcpStream::connect((Ipv4Addr::LOCALHOST, redirect.port().unwrap()))
            .await
            .unwrap();
        let mut favicon = redirect.clone();
        favicon.set_path("/favicon.ico");
        let stray = client().get(favicon).send().await.unwrap();
        assert_eq!(stray.status(), 404);
        let answer = client()
            .get(format!("{}?{back}", params["redirect_uri"]))
            .send()
            .await
            .unwrap();
        Some((answer.status().as_u16(), answer.text().await.unwrap()))
    });
    let result = browser_flow(
        &client(),
        &issuer.oidc(),
        &issuer.endpoints(),
        wait,
        &mut prompt,
    )
    .await;
    (result, visit.await.unwrap())
}

fn back(pairs: &[(&str, &str)]) -> String {
    form(pairs)
}

#[tokio::test]
async fn the_browser_flow_sends_pkce_state_and_nonce_and_checks_the_token() {
    let nonce = Arc::new(Mutex::new(String::new()));
    let n = nonce.clone();
    let issuer = Issuer::start(move |seen, base| {
        assert_eq!(seen.target, "/token");
        (
            200,
            serde_json::json!({"id_token": jwt(&serde_json::json!({
                "iss": base, "sub": "1", "email": "alice@example.com",
                "aud": ["other", "sigstore"], "nonce": *n.lock().unwrap(),
            }))}),
        )
    })
    .await;
    let n = nonce.clone();
    let (result, page) = browser(&issuer, Duration::from_secs(10), move |params| {
        assert_eq!(params["response_type"], "code");
        assert_eq!(params["client_id"], "sigstore");
        assert_eq!(params["scope"], "openid email");
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["code_challenge"].len(), 43);
        assert!(
            params["redirect_uri"].starts_with("http://localhost:")
                && params["redirect_uri"].ends_with("/auth/callback"),
            "{params:?}"
        );
        assert_eq!(params["state"].len(), 43);
        *n.lock().unwrap() = params["nonce"].clone();
        Some(back(&[("code", "the-code"), ("state", &params["state"])]))
    })
    .await;
    let token = result.unwrap();
    assert_eq!(token.principal(), "alice@example.com");
    let (status, html) = page.unwrap();
    assert_eq!(status, 200);
    assert!(html.contains("return to the terminal"), "{html}");
    // The exchange: the code, the same redirect URI, the verifier of the challenge.
    let exchange = &issuer.seen("/token")[0].form;
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["code"], "the-code");
    assert_eq!(exchange["client_id"], "sigstore");
    assert!(!exchange.contains_key("client_secret"));
    assert!(exchange["redirect_uri"].starts_with("http://localhost:"));
    assert_eq!(exchange["code_verifier"].len(), 43);
}

#[tokio::test]
async fn the_browser_flow_refuses_a_token_with_another_nonce() {
    let issuer = Issuer::start(|_, base| {
        (
            200,
            serde_json::json!({"id_token": jwt(&serde_json::json!({
                "iss": base, "sub": "1", "aud": "sigstore", "nonce": "someone-elses",
            }))}),
        )
    })
    .await;
    let (result, _) = browser(&issuer, Duration::from_secs(10), |params| {
        Some(back(&[("code", "c"), ("state", &params["state"])]))
    })
    .await;
    assert!(
        matches!(result, Err(KeylessError::NonceMismatch)),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_browser_flow_fails_closed_on_another_state_and_never_redeems_the_code() {
    let issuer = Issuer::start(nothing_else).await;
    let (result, page) = browser(&issuer, Duration::from_secs(10), |_| {
        Some(back(&[("code", "c"), ("state", "forged")]))
    })
    .await;
    assert!(
        matches!(result, Err(KeylessError::StateMismatch)),
        "{result:?}"
    );
    let (status, html) = page.unwrap();
    assert_eq!(status, 400);
    assert!(html.contains("state does not match"), "{html}");
    assert!(issuer.seen("/token").is_empty());
}

#[tokio::test]
async fn the_browser_flow_reports_the_issuers_access_denied() {
    let issuer = Issuer::start(nothing_else).await;
    let (result, page) = browser(&issuer, Duration::from_secs(10), |params| {
        Some(back(&[
            ("error", "access_denied"),
            ("error_description", "the user said no\u{1b}[31m"),
            ("state", &params["state"]),
        ]))
    })
    .await;
    let err = result.unwrap_err();
    assert!(
        matches!(&err, KeylessError::AuthorizationDenied { error, .. } if error == "access_denied"),
        "{err:?}"
    );
    // The issuer's text is shown without control characters.
    assert_eq!(
        err.to_string(),
        "the OIDC issuer refused the sign-in: access_denied (the user said no[31m)"
    );
    assert_eq!(page.unwrap().0, 400);
    assert!(issuer.seen("/token").is_empty());
}

#[tokio::test]
async fn the_browser_flow_times_out() {
    let issuer = Issuer::start(nothing_else).await;
    let started = Instant::now();
    let (result, page) = browser(&issuer, Duration::from_millis(300), |_| None).await;
    assert!(
        matches!(result, Err(KeylessError::SignInTimedOut { .. })),
        "{result:?}"
    );
    assert!(page.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn callbacks_are_checked_state_first() {
    let ok = callback_outcome("code=abc&state=s1", "s1").unwrap();
    assert_eq!(ok, "abc");
    let denied = r#"AuthorizationDenied { error: "access_denied", description: None }"#;
    let no_code = r#"Callback { reason: "the redirect carries neither a code nor an error" }"#;
    for (query, expected) in [
        ("code=abc&state=s2", "StateMismatch"),
        ("code=abc", "StateMismatch"),
        ("error=access_denied&state=s2", "StateMismatch"),
        ("error=access_denied", denied),
        ("error=access_denied&state=s1", denied),
        ("state=s1", no_code),
        ("code=&state=s1", no_code),
        (
            "code=a&code=b&state=s1",
            r#"Callback { reason: "the parameter \"code\" is repeated" }"#,
        ),
    ] {
        let err = callback_outcome(query, "s1").unwrap_err();
        assert_eq!(format!("{err:?}"), expected, "{query}");
    }
}

#[test]
fn id_token_claims_are_checked() {
    let issuer = "https://issuer.example";
    let token = |claims: Value| jwt(&claims);
    let good = serde_json::json!({"iss": issuer, "sub": "s", "aud": "sigstore", "nonce": "n"});
    check_id_token(&token(good.clone()), issuer, "sigstore", Some("n")).unwrap();
    // A trailing slash on either side is the same issuer.
    check_id_token(&token(good), "https://issuer.example/", "sigstore", None).unwrap();
    let audience = |found: &str| {
        format!(r#"AudienceMismatch {{ client_id: "sigstore", audience: {found:?} }}"#)
    };
    for (claims, nonce, expected) in [
        (
            serde_json::json!({"iss": "https://evil.example", "sub": "s", "aud": "sigstore"}),
            None,
            r#"IssuerMismatch { expected: "https://issuer.example", found: "https://evil.example", what: "an identity token" }"#.to_string(),
        ),
        (
            serde_json::json!({"iss": issuer, "sub": "s", "aud": "other"}),
            None,
            audience(r#""other""#),
        ),
        (
            serde_json::json!({"iss": issuer, "sub": "s", "aud": ["a", "b"]}),
            None,
            audience(r#"["a","b"]"#),
        ),
        (
            serde_json::json!({"iss": issuer, "sub": "s"}),
            None,
            audience("missing"),
        ),
        (
            serde_json::json!({"iss": issuer, "sub": "s", "aud": "sigstore"}),
            Some("n"),
            "NonceMismatch".to_string(),
        ),
        (
            serde_json::json!({"iss": issuer, "sub": "s", "aud": "sigstore", "nonce": "m"}),
            Some("n"),
            "NonceMismatch".to_string(),
        ),
    ] {
        let err = check_id_token(&token(claims.clone()), issuer, "sigstore", nonce).unwrap_err();
        assert_eq!(format!("{err:?}"), expected, "{claims}");
    }
}

#[tokio::test]
async fn discovery_must_name_the_configured_issuer_and_a_token_endpoint() {
    let issuer = Issuer::start(nothing_else).await;
    let found = discover(&client(), &format!("{}/", issuer.url))
        .await
        .unwrap();
    assert_eq!(found.token_endpoint, format!("{}/token", issuer.url));
    assert_eq!(
        found.device_authorization_endpoint,
        Some(format!("{}/device", issuer.url))
    );

    let other = Issuer::start(|_, base| {
        (
            200,
            serde_json::json!({"issuer": format!("{base}/elsewhere"), "token_endpoint": "x"}),
        )
    })
    .await;
    let err = discover(&client(), &other.url).await.unwrap_err();
    assert!(
        matches!(&err, KeylessError::IssuerMismatch { found, .. } if found.ends_with("/elsewhere")),
        "{err:?}"
    );
    let no_token = Issuer::start(|_, base| (200, serde_json::json!({"issuer": base}))).await;
    let err = discover(&client(), &no_token.url).await.unwrap_err();
    assert_eq!(
        format!("{err:?}"),
        r#"MalformedResponse { service: "OIDC issuer", reason: "the discovery document has no `token_endpoint`" }"#
    );
    let bad = Issuer::start(|_, base| {
        (
            200,
            serde_json::json!({"issuer": base, "token_endpoint": "file:///etc/passwd"}),
        )
    })
    .await;
    let err = discover(&client(), &bad.url).await.unwrap_err();
    assert_eq!(
        format!("{err:?}"),
        r#"MalformedResponse { service: "OIDC issuer", reason: "`token_endpoint` file:///etc/passwd is not an http(s) URL" }"#
    );
}

/// The device flow with a scripted sequence of token answers.
async fn device(
    interval: u64,
    expires_in: u64,
    answers: Vec<Value>,
) -> (Result<IdentityToken, KeylessError>, Vec<String>, Issuer) {
    let answers = Mutex::new(answers.into_iter());
    let issuer = Issuer::start(move |seen, base| match seen.target.as_str() {
        "/device" => (
            200,
            serde_json::json!({
                "device_code": "dev-code", "user_code": "ABCD-EFGH",
                "verification_uri": format!("{base}/approve"),
                "verification_uri_complete": format!("{base}/approve?user_code=ABCD-EFGH"),
                "expires_in": expires_in, "interval": interval,
            }),
        ),
        "/token" => match answers.lock().unwrap().next() {
            Some(Value::String(error)) => (400, serde_json::json!({"error": error})),
            Some(claims) => (
                200,
                serde_json::json!({"id_token": jwt(&{
                    let mut c = claims;
                    c["iss"] = base.into();
                    c
                })}),
            ),
            None => (400, serde_json::json!({"error": "authorization_pending"})),
        },
        _ => (0, Value::Null),
    })
    .await;
    let mut prompts = Vec::new();
    let mut prompt = |p: &Prompt<'_>| prompts.push(p.to_string());
    let result = device_flow(&client(), &issuer.oidc(), &issuer.endpoints(), &mut prompt).await;
    (result, prompts, issuer)
}

#[tokio::test]
async fn the_device_flow_polls_until_approved() {
    let (result, prompts, issuer) = device(
        1,
        60,
        vec![
            "authorization_pending".into(),
            serde_json::json!({"sub": "u", "email": "bob@example.com", "aud": "sigstore"}),
        ],
    )
    .await;
    assert_eq!(result.unwrap().principal(), "bob@example.com");
    assert_eq!(prompts.len(), 1);
    assert!(
        prompts[0].starts_with(&format!(
            "Open this URL in a browser to sign in: {}/approve?user_code=ABCD-EFGH\n",
            issuer.url
        )),
        "{prompts:?}"
    );
    assert!(
        prompts[0].contains("enter the code ABCD-EFGH"),
        "{prompts:?}"
    );
    let start = &issuer.seen("/device")[0].form;
    assert_eq!(start["client_id"], "sigstore");
    assert_eq!(start["scope"], "openid email");
    assert_eq!(start["code_challenge_method"], "S256");
    let polls = issuer.seen("/token");
    assert_eq!(polls.len(), 2);
    for poll in &polls {
        assert_eq!(poll.form["grant_type"], DEVICE_GRANT);
        assert_eq!(poll.form["device_code"], "dev-code");
        assert_eq!(poll.form["client_id"], "sigstore");
        assert_eq!(poll.form["code_verifier"].len(), 43);
    }
    assert!(polls[1].at - polls[0].at >= Duration::from_secs(1));
}

#[tokio::test]
async fn slow_down_adds_five_seconds_to_the_interval() {
    let (result, _, issuer) = device(
        1,
        60,
        vec![
            "slow_down".into(),
            serde_json::json!({"sub": "u", "aud": "sigstore"}),
        ],
    )
    .await;
    result.unwrap();
    let polls = issuer.seen("/token");
    assert_eq!(polls.len(), 2);
    let gap = polls[1].at - polls[0].at;
    assert!(gap >= Duration::from_secs(6), "{gap:?}");
}

#[tokio::test]
async fn the_device_flow_ends_on_denial_expiry_and_its_deadline() {
    let (result, _, _) = device(1, 60, vec!["access_denied".into()]).await;
    assert!(
        matches!(&result, Err(KeylessError::AuthorizationDenied { error, .. }) if error == "access_denied"),
        "{result:?}"
    );
    let (result, _, _) = device(1, 60, vec!["expired_token".into()]).await;
    assert!(
        matches!(result, Err(KeylessError::DeviceCodeExpired)),
        "{result:?}"
    );
    let (result, _, _) = device(1, 60, vec!["invalid_grant".into()]).await;
    assert!(
        matches!(&result, Err(KeylessError::Rejected { status: 400, message, .. }) if message == "invalid_grant"),
        "{result:?}"
    );
    // Always pending, `expires_in` 1 s: given up after the first wait, without polling.
    let (result, _, issuer) = device(1, 1, Vec::new()).await;
    assert!(
        matches!(result, Err(KeylessError::DeviceCodeExpired)),
        "{result:?}"
    );
    assert!(issuer.seen("/token").is_empty());
    // A token for another client is refused.
    let (result, _, _) = device(1, 60, vec![serde_json::json!({"sub": "u", "aud": "x"})]).await;
    assert!(
        matches!(result, Err(KeylessError::AudienceMismatch { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn redirect_urls_must_be_loopback_http_without_query() {
    for (url, why) in [
        (
            "https://localhost:0/cb",
            "it must be an http:// URL on the loopback interface",
        ),
        (
            "http://example.com:0/cb",
            "its host must be localhost, 127.0.0.1 or [::1]: the code is delivered to this machine",
        ),
        (
            "http://127.0.0.1:0/cb?x=1",
            "it must not have a query or a fragment",
        ),
        ("not a url", "relative URL without a base"),
    ] {
        let err = Loopback::bind(Some(url)).await.err().unwrap();
        assert!(
            matches!(&err, KeylessError::InvalidRedirectUrl { url: u, reason } if u == url && reason == why),
            "{url}: {err:?}"
        );
    }
    let bound = Loopback::bind(Some("http://127.0.0.1:0/my/callback"))
        .await
        .unwrap();
    let url = Url::parse(&bound.redirect_uri).unwrap();
    assert_ne!(url.port(), Some(0));
    assert_eq!(url.path(), "/my/callback");
    assert_eq!(bound.path, "/my/callback");
}

#[tokio::test]
async fn a_forced_interactive_flow_ignores_a_given_token_and_token_flow_never_signs_in() {
    let issuer = Issuer::start(|seen, _| match seen.target.as_str() {
        "/device" => (
            400,
            serde_json::json!({"error": "invalid_client", "error_description": "unknown client"}),
        ),
        _ => (0, Value::Null),
    })
    .await;
    let given = jwt(&serde_json::json!({"iss": "https://i", "sub": "s"}));
    let mut options = TokenOptions::new();
    options.identity_token = Some(&given);
    options.oidc = issuer.oidc();
    options.flow = Some(AuthFlow::Token);
    let mut prompt = |_: &Prompt<'_>| panic!("no prompt for a given token");
    let (_, source) = find_token(&client(), &options, &mut prompt).await.unwrap();
    assert_eq!(source, TokenSource::Flag);
    assert!(issuer.seen("/").is_empty());

    // Forced: the device endpoint is asked although a token was given.
    options.flow = Some(AuthFlow::Device);
    let err = find_token(&client(), &options, &mut prompt)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the OIDC issuer refused the request (HTTP 400): invalid_client: unknown client"
    );
    assert_eq!(issuer.seen("/device").len(), 1);

    // No token and not a terminal: the device flow, announced.
    options.identity_token = None;
    options.flow = None;
    let mut prompts = Vec::new();
    let mut record = |p: &Prompt<'_>| prompts.push(p.to_string());
    if std::env::var_os(crate::keyless::token::SIGSTORE_ID_TOKEN).is_none()
        && std::env::var_os(crate::keyless::token::ACTIONS_ID_TOKEN_REQUEST_URL).is_none()
    {
        let err = find_token(&client(), &options, &mut record)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, KeylessError::Rejected { status: 400, message, .. } if message == "invalid_client: unknown client"),
            "{err:?}"
        );
        assert_eq!(issuer.seen("/device").len(), 2);
        assert!(
            prompts[0].starts_with("Non-interactive mode detected"),
            "{prompts:?}"
        );
    }
}

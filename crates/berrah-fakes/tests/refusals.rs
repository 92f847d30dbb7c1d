//! Each fake refuses what the real platform refuses, with the platform's own
//! status and error shape, and accepts what sits exactly at the limit.

use berrah_fakes::bluesky::{FakeBluesky, FakeBlueskyConfig};
use berrah_fakes::graph::{FakeGraph, FakeGraphConfig};
use berrah_fakes::linkedin::{FakeLinkedin, FakeLinkedinConfig};
use berrah_fakes::mastodon::{self, FakeMastodon};
use berrah_fakes::oauth::{FakeOAuth, FakeOAuthConfig};
use berrah_fakes::telegram::{self, FakeTelegram};
use berrah_fakes::webhook::{Kind, Receiver};
use berrah_fakes::x::FakeX;
use berrah_fakes::youtube::FakeYouTube;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

fn http() -> reqwest::Client {
    berrah::http::client()
}

async fn answer(r: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = r.send().await.expect("the fake answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn x_refuses_one_weighted_unit_over_280_and_accepts_280() {
    let x = FakeX::start().await.unwrap();
    let post = |text: String| {
        http()
            .post(format!("{}/2/tweets", x.url()))
            .bearer_auth("x-token")
            .json(&json!({ "text": text }))
    };
    // A CJK character weighs 2, a Latin letter 1.
    let at_limit = format!("{}{}", "故".repeat(130), "a".repeat(20));
    assert_eq!(berrah_fakes::count::x_weighted_length(&at_limit), 280);
    let (status, body) = answer(post(at_limit.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["text"], json!(at_limit));

    let over = format!("{}{}", "故".repeat(130), "b".repeat(21));
    assert_eq!(berrah_fakes::count::x_weighted_length(&over), 281);
    let (status, body) = answer(post(over)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["type"],
        json!("https://api.x.com/2/problems/invalid-request")
    );
    assert_eq!(body["title"], json!("Invalid Request"));
    assert_eq!(body["status"], json!(400));
    assert!(
        body["detail"].as_str().unwrap().contains("too long"),
        "{body}"
    );
    assert_eq!(x.lock().posts.len(), 1);
}

#[tokio::test]
async fn mastodon_refuses_501_characters_with_422() {
    let m = FakeMastodon::start().await.unwrap();
    let post = |text: String| {
        http()
            .post(format!("{}/api/v1/statuses", m.url()))
            .bearer_auth(mastodon::DEFAULT_TOKEN)
            .json(&json!({ "status": text }))
    };
    // Graphemes, not bytes: an Arabic letter with its vowel mark is one.
    let at_limit = "بَ".repeat(500);
    let (status, body) = answer(post(at_limit)).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = answer(post("x".repeat(501))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"],
        json!("Validation failed: Text character limit of 500 exceeded")
    );
    // A URL counts 23 whatever its length.
    let with_url = format!(
        "{} https://example.org/{}",
        "y".repeat(476),
        "z".repeat(300)
    );
    let (status, body) = answer(post(with_url)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_webhook_receiver_refuses_a_wrong_signature() {
    let key = "s3cret-signing-key";
    let receiver = Receiver::new(Kind::Json, Some(key));
    // The receiver's clock: the requests below were sent 2 minutes ago.
    let sent: i64 = 1_797_584_700;
    receiver.set_clock(move || jiff::Timestamp::from_second(sent + 120).unwrap());
    let running = berrah_fakes::serve(receiver.router()).await.unwrap();
    let body = br#"{"delivery":"occ-1","text":"Bonjour","sent_at":"2026-12-18T09:00:00Z","account":"hook"}"#;
    // v1=HMAC-SHA256(key, timestamp "." body), as documented.
    let sign_at = |k: &str, ts: i64| {
        let mut mac = Hmac::<Sha256>::new_from_slice(k.as_bytes()).unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let sign = |k: &str| sign_at(k, sent);
    let send_at = |ts: i64, signature: String| {
        http()
            .post(format!("{}{}", running.url(), receiver.path()))
            .header("content-type", "application/json")
            .header("x-berrah-delivery", "occ-1")
            .header("x-berrah-timestamp", ts.to_string())
            .header("x-berrah-signature", signature)
            .body(body.to_vec())
    };
    let send = |signature: String| send_at(sent, signature);
    let (status, answer_body) = answer(send(sign(key))).await;
    assert_eq!(status, 200, "{answer_body}");

    let body_only = {
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    for wrong in [
        sign("another-key"),
        // The hex digits must be lowercase, as documented.
        format!("v1={}", sign(key)["v1=".len()..].to_uppercase()),
        sign(key).replace("v1=", "sha256="),
        "v1=".to_string(),
        // The timestamp is signed: the body's HMAC alone is refused, and so
        // is another moment's signature.
        format!("sha256={body_only}"),
        format!("v1={body_only}"),
        sign_at(key, sent - 1),
    ] {
        let (status, answer_body) = answer(send(wrong.clone())).await;
        assert_eq!(status, 401, "{wrong}: {answer_body}");
    }
    let validity: Vec<_> = receiver
        .received()
        .iter()
        .map(|r| r.signature_valid)
        .collect();
    assert_eq!(
        validity,
        [
            Some(true),
            Some(false),
            Some(false),
            Some(false),
            Some(false),
            Some(false),
            Some(false),
            Some(false)
        ]
    );

    // A request signed right but sent more than 5 minutes before (or
    // after) the receiver's clock is refused: a replay.
    for ts in [sent + 120 - 301, sent + 120 + 301] {
        let (status, answer_body) = answer(send_at(ts, sign_at(key, ts))).await;
        assert_eq!(status, 401, "{ts}: {answer_body}");
        assert!(
            answer_body.to_string().contains("timestamp"),
            "{answer_body}"
        );
    }
    let (status, answer_body) = answer(send_at(sent - 180, sign_at(key, sent - 180))).await;
    assert_eq!(status, 200, "5 minutes old is still fine: {answer_body}");
}

#[tokio::test]
async fn bluesky_refuses_a_malformed_record_key_with_the_xrpc_error_shape() {
    let config = FakeBlueskyConfig::default();
    let pds = FakeBluesky::start(config.clone()).await.unwrap();
    let (status, session) = answer(
        http()
            .post(format!(
                "{}/xrpc/com.atproto.server.createSession",
                pds.url()
            ))
            .json(&json!({"identifier": config.handle, "password": config.password})),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let access = session["accessJwt"].as_str().unwrap().to_string();
    let create = |rkey: &str| {
        http()
            .post(format!("{}/xrpc/com.atproto.repo.createRecord", pds.url()))
            .bearer_auth(&access)
            .json(&json!({
                "repo": config.did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": {
                    "$type": "app.bsky.feed.post",
                    "text": format!("Bonjour {rkey}"),
                    "createdAt": "2026-12-18T09:00:00.000Z",
                },
            }))
    };
    // Too short, a character outside the alphabet (`1`, upper case), and a
    // first character that sets the top bit.
    for bad in [
        "3jzfcijpj2z2",
        "3jzfcijpj2z21",
        "3JZFCIJPJ2Z2A",
        "kjzfcijpj2z2a",
    ] {
        let (status, body) = answer(create(bad)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"], json!("InvalidRequest"), "{bad}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("Invalid TID"),
            "{bad}: {body}"
        );
        assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
    }
    let (status, body) = answer(create("3jzfcijpj2z2a")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["uri"].as_str().unwrap().ends_with("/3jzfcijpj2z2a"));
    // The fake's own keys are TIDs too.
    assert!(berrah_fakes::bluesky::tid::parse(&berrah_fakes::bluesky::tid::new(1, 2)).is_some());
}

#[tokio::test]
async fn telegram_refuses_a_text_over_4096_utf16_units() {
    let tg = FakeTelegram::start().await.unwrap();
    let send = |text: String| {
        http()
            .post(format!(
                "{}/bot{}/sendMessage",
                tg.url(),
                telegram::DEFAULT_TOKEN
            ))
            .json(&json!({"chat_id": format!("@{}", telegram::CHANNEL), "text": text}))
    };
    // An emoji is two UTF-16 units.
    let (status, body) = answer(send("🌍".repeat(2048))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = answer(send(format!("{}a", "🌍".repeat(2048)))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: message is too long"})
    );
}

#[tokio::test]
async fn instagram_refuses_a_caption_over_2200_characters() {
    let config = FakeGraphConfig {
        fetch_media: false,
        ..FakeGraphConfig::default()
    };
    let graph = FakeGraph::start(config.clone()).await.unwrap();
    let (status, body) = answer(
        http()
            .post(format!(
                "{}/{}/{}/media",
                graph.url(),
                config.version,
                config.ig_user_id
            ))
            .bearer_auth(&config.token)
            .form(&[
                ("image_url", "https://cdn.example.org/a.jpg".to_string()),
                ("caption", "é".repeat(2201)),
            ]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], json!(36004), "{body}");
    assert_eq!(body["error"]["error_subcode"], json!(2207010), "{body}");
    assert_eq!(body["error"]["type"], json!("OAuthException"), "{body}");
}

#[tokio::test]
async fn facebook_refuses_another_graph_version() {
    let config = FakeGraphConfig::default();
    let graph = FakeGraph::start(config.clone()).await.unwrap();
    let (status, body) = answer(
        http()
            .post(format!("{}/v1.0/{}/feed", graph.url(), config.page_id))
            .bearer_auth(&config.token)
            .form(&[("message", "Bonjour")]),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], json!(2635), "{body}");
}

#[tokio::test]
async fn linkedin_refuses_a_commentary_over_3000_characters() {
    let config = FakeLinkedinConfig::default();
    let li = FakeLinkedin::start(config.clone()).await.unwrap();
    let (status, body) = answer(
        http()
            .post(format!("{}/rest/posts", li.url()))
            .bearer_auth(&config.token)
            .header("linkedin-version", &config.version)
            .header("x-restli-protocol-version", "2.0.0")
            .json(&json!({
                "author": config.organization,
                "commentary": "م".repeat(3001),
                "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
                "lifecycleState": "PUBLISHED",
                "isReshareDisabledByAuthor": false,
            })),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], json!("FIELD_LENGTH_TOO_LONG"), "{body}");
    assert_eq!(body["status"], json!(422), "{body}");
}

#[tokio::test]
async fn youtube_refuses_an_unknown_token() {
    let yt = FakeYouTube::start().await.unwrap();
    let (status, body) = answer(
        http()
            .post(format!(
                "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
                yt.url()
            ))
            .bearer_auth("not-a-token")
            .header("x-upload-content-length", "1000")
            .header("x-upload-content-type", "video/mp4")
            .json(&json!({"snippet": {"title": "t"}, "status": {"privacyStatus": "public"}})),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], json!(401), "{body}");
    assert_eq!(
        body["error"]["errors"][0]["reason"],
        json!("authError"),
        "{body}"
    );
}

#[tokio::test]
async fn oauth_refuses_an_unknown_client() {
    let config = FakeOAuthConfig::default();
    let server = FakeOAuth::start(config).await.unwrap();
    let (status, body) = answer(
        http()
            .post(format!("{}/oauth/token", server.base_url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "whatever"),
                ("client_id", "someone-else"),
            ]),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], json!("invalid_client"), "{body}");
}

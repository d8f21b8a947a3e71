//! A tiny HTTP/1.1 man-in-the-middle on 127.0.0.1 for the in-transit tampering test:
//! it forwards each request to the registry over a fresh connection and, when a rule
//! matches, rewrites the response.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to a response.
#[derive(Clone, Copy)]
pub enum Tamper {
    /// Change one byte of manifest bodies (GET .../manifests/...).
    ManifestByte,
    /// Answer 500 to manifest PUTs (the last step of a sign).
    FailManifestPut,
}

/// Starts the proxy in a background thread; returns its address.
pub fn start(upstream: SocketAddr, tamper: Tamper) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let tamper = Arc::new(tamper);
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let tamper = tamper.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, upstream, *tamper).await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

async fn read_message(s: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&tmp[..n]);
        if buf[0] == 0x16 {
            // A TLS ClientHello: this proxy speaks plain HTTP only, so hang up and let
            // the client fall back to http, as it would against the registry itself.
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = s.read(&mut tmp).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Ok(Some((head, body)))
}

async fn serve(mut client: TcpStream, upstream: SocketAddr, tamper: Tamper) -> std::io::Result<()> {
    while let Some((head, body)) = read_message(&mut client).await? {
        let request_line = head.lines().next().unwrap_or_default().to_string();
        let is_manifest = request_line.contains("/manifests/");
        if matches!(tamper, Tamper::FailManifestPut)
            && is_manifest
            && request_line.starts_with("PUT ")
        {
            client
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")
                .await?;
            continue;
        }
        // Forward with Connection: close so each upstream response ends cleanly.
        let mut up = TcpStream::connect(upstream).await?;
        let mut fwd = String::new();
        for (i, line) in head.split("\r\n").enumerate() {
            if line.is_empty() {
                continue;
            }
            if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
                continue;
            }
            fwd.push_str(line);
            fwd.push_str("\r\n");
        }
        fwd.push_str("Connection: close\r\n\r\n");
        up.write_all(fwd.as_bytes()).await?;
        up.write_all(&body).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        if matches!(tamper, Tamper::ManifestByte)
            && is_manifest
            && request_line.starts_with("GET ")
            && let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n")
        {
            // Flip a digit inside the body, keeping its length.
            if let Some(j) = resp[i + 4..].iter().position(|b| b.is_ascii_digit()) {
                let b = &mut resp[i + 4 + j];
                *b = if *b == b'9' { b'8' } else { *b + 1 };
            }
        }
        // Drop upstream's Connection: close so the client may reuse this connection.
        let text_end = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| i + 4)
            .unwrap_or(resp.len());
        let head_text =
            String::from_utf8_lossy(&resp[..text_end]).replace("Connection: close\r\n", "");
        client.write_all(head_text.as_bytes()).await?;
        client.write_all(&resp[text_end..]).await?;
    }
    Ok(())
}

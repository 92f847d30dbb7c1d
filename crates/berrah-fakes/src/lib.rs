//! Fake platform servers on 127.0.0.1, faithful to the real APIs, for the tests
//! and the benchmarks. Each one checks requests as the real API does and
//! answers with its shapes and errors.

pub mod bluesky;
pub mod count;
pub mod faulty;
pub mod graph;
pub mod linkedin;
pub mod mastodon;
pub mod oauth;
pub mod telegram;
pub mod webhook;
pub mod x;
pub mod youtube;

/// A fake server running on 127.0.0.1 until dropped.
pub struct Running {
    pub addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `app` on a free port of 127.0.0.1 in the background.
pub async fn serve(app: axum::Router) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Running { addr, task })
}

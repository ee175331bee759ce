//! A Lambda Runtime API server for tests: the real protocol the `bootstrap` binary speaks in
//! AWS (`/2018-06-01/runtime/invocation/next`, `…/{id}/response`, `…/{id}/error`,
//! `/runtime/init/error`), on 127.0.0.1, so the built function is exercised exactly as Lambda
//! runs it, with real event JSON.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, mpsc, oneshot};

/// What the function answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error { error_type: String, message: String },
    InitError { error_type: String, message: String },
}

impl Outcome {
    pub fn response(self) -> Value {
        match self {
            Outcome::Response(v) => v,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    pub fn error(self) -> (String, String) {
        match self {
            Outcome::Error {
                error_type,
                message,
            } => (error_type, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

struct Pending {
    id: String,
    payload: Value,
    deadline_ms: u64,
}

struct Shared {
    queue: Mutex<mpsc::Receiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<oneshot::Sender<Outcome>>>,
    /// When the function first asked for an invocation: the end of its init phase.
    first_poll: std::sync::Mutex<Option<std::time::Instant>>,
}

pub struct RuntimeApi {
    pub addr: String,
    sender: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
    next_id: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (sender, receiver) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            queue: Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: std::sync::Mutex::new(None),
        });
        let s = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let _ = serve(conn, s).await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            sender,
            shared,
            next_id: AtomicU64::new(1),
            task,
        })
    }

    /// Hands `payload` to the function and waits for its answer (or an init error).
    pub async fn invoke(&self, payload: Value, timeout: Duration) -> Result<Outcome> {
        let id = format!("req-{:08}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().await.insert(id.clone(), tx);
        let (init_tx, init_rx) = oneshot::channel();
        *self.shared.init_error.lock().await = Some(init_tx);
        let deadline_ms = u64::try_from(
            (std::time::SystemTime::now() + timeout)
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis(),
        )?;
        self.sender
            .send(Pending {
                id,
                payload,
                deadline_ms,
            })
            .await
            .context("runtime API stopped")?;
        tokio::select! {
            r = rx => Ok(r?),
            r = init_rx => Ok(r?),
            _ = tokio::time::sleep(timeout + Duration::from_secs(5)) => bail!("no answer within {timeout:?}"),
        }
    }
}

impl RuntimeApi {
    /// When the function first polled `/invocation/next` (its init phase was over), if it has.
    pub fn first_poll(&self) -> Option<std::time::Instant> {
        *self
            .shared
            .first_poll
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The command that runs the `bootstrap` binary as Lambda would: a clean environment with
    /// the runtime's variables, fake credentials and the costctl settings, against `endpoint`.
    pub fn function_command(
        &self,
        bootstrap: &std::path::Path,
        endpoint: &str,
        mode: &str,
        config: &str,
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(bootstrap);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &self.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", format!("costctl-{mode}"))
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/costctl")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("COSTCTL_ENDPOINT_URL", endpoint)
            .env("COSTCTL_STATE_TABLE", "costctl-state")
            .env("COSTCTL_MODE", mode)
            .env("COSTCTL_CONFIG", config)
            .env("COSTCTL_POLL_MS", "50")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        cmd
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(conn: TcpStream, shared: Arc<Shared>) -> Result<()> {
    let (read, mut write) = conn.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse()?,
                    "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                    _ => {}
                }
            }
        }
        let body = if chunked {
            let mut body = Vec::new();
            loop {
                let mut size = String::new();
                reader.read_line(&mut size).await?;
                let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)?;
                let mut chunk = vec![0; n + 2];
                reader.read_exact(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            body
        } else {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).await?;
            body
        };

        let prefix = "/2018-06-01/runtime";
        let route = path.strip_prefix(prefix).unwrap_or(&path);
        if method == "GET" && route == "/invocation/next" {
            shared
                .first_poll
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_or_insert_with(std::time::Instant::now);
            let next = shared.queue.lock().await.recv().await;
            let Some(p) = next else { return Ok(()) };
            let payload = serde_json::to_vec(&p.payload)?;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Lambda-Runtime-Aws-Request-Id: {}\r\nLambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:costctl\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n\r\n",
                payload.len(),
                p.id,
                p.deadline_ms
            );
            write.write_all(head.as_bytes()).await?;
            write.write_all(&payload).await?;
            continue;
        }
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let err_fields = |v: &Value| {
            (
                v["errorType"].as_str().unwrap_or("").to_string(),
                v["errorMessage"].as_str().unwrap_or("").to_string(),
            )
        };
        if route == "/init/error" {
            let (error_type, message) = err_fields(&value);
            if let Some(tx) = shared.init_error.lock().await.take() {
                let _ = tx.send(Outcome::InitError {
                    error_type,
                    message,
                });
            }
        } else if let Some(rest) = route.strip_prefix("/invocation/") {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let outcome = match kind {
                "response" => Outcome::Response(value),
                _ => {
                    let (error_type, message) = err_fields(&value);
                    Outcome::Error {
                        error_type,
                        message,
                    }
                }
            };
            if let Some(tx) = shared.waiting.lock().await.remove(id) {
                let _ = tx.send(outcome);
            }
        }
        write
            .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}")
            .await?;
    }
}

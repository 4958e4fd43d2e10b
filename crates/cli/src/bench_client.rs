//! The bench's HTTP client for the calls it measures: one keep-alive HTTP/1.1
//! connection per bench worker, a request written with one system call, the answer
//! read into a buffer the connection keeps.
//!
//! The bench shares the machine with the server it measures, so every microsecond it
//! spends is taken from the server. A general client (reqwest: URL parsing and host
//! normalisation per request, a connection pool, redirect and retry layers, a body
//! collected from frames) used about 180 µs of CPU a receipt; this one does only what
//! the bench needs. Setting up the chain still goes through reqwest.

use reqwest::Url;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest a call may take before it counts as a transport error.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer head read (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers an answer may have.
const MAX_HEADERS: usize = 64;

/// Where the server is: `host:port` to connect to, the `Host` header and the path
/// prefix of the base URL.
#[derive(Clone, Debug)]
pub struct Target {
    address: String,
    host: String,
    prefix: String,
}

impl Target {
    /// Reads an `http://host[:port][/prefix]` base URL.
    pub fn parse(base: &str) -> anyhow::Result<Target> {
        let url = Url::parse(base).map_err(|e| anyhow::anyhow!("--target {base}: {e}"))?;
        if url.scheme() != "http" {
            anyhow::bail!("--target {base}: only http:// targets can be benchmarked");
        }
        let host = url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("--target {base}: no host"))?;
        let port = url.port_or_known_default().unwrap_or(80);
        Ok(Target {
            address: format!("{host}:{port}"),
            host: match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            },
            prefix: url.path().trim_end_matches('/').to_string(),
        })
    }
}

/// A status and the answer's body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One worker's connection, opened when first needed and again after a failure or
/// when the server closes it.
pub struct Client {
    target: Target,
    authorization: String,
    stream: Option<TcpStream>,
    /// Bytes read from the stream: the answer being parsed (and nothing after it: the
    /// bench sends one request at a time).
    buffer: Vec<u8>,
    request: Vec<u8>,
}

impl Client {
    pub fn new(target: Target, token: &str) -> Client {
        Client {
            target,
            authorization: format!("Bearer {token}"),
            stream: None,
            buffer: Vec::with_capacity(32 * 1024),
            request: Vec::with_capacity(16 * 1024),
        }
    }

    /// Posts a JSON body. A connection the server closed while it was idle is opened
    /// again and the request sent once more, as a pooling client does; every call the
    /// bench makes is safe to repeat (a calculate writes nothing; commits and returns
    /// are idempotent by their ids). An error is the transport's, as text.
    pub async fn post(&mut self, path: &str, body: &[u8]) -> Result<Answer, String> {
        match tokio::time::timeout(TIMEOUT, self.exchange(path, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                self.stream = None;
                Err(error)
            }
            Err(_) => {
                self.stream = None;
                Err("timed out".into())
            }
        }
    }

    /// Opens the connection now, if it is not open, so that a run's first calls do not
    /// wait for it.
    pub async fn open(&mut self) -> Result<(), String> {
        if self.stream.is_none() {
            self.stream = Some(connect(&self.target).await.map_err(Failure::into_text)?);
        }
        Ok(())
    }

    async fn exchange(&mut self, path: &str, body: &[u8]) -> Result<Answer, String> {
        self.write_request(path, body);
        let reused = self.stream.is_some();
        match self.send_and_read().await {
            Err(Failure::Closed) if reused => {
                self.stream = None;
                self.send_and_read().await.map_err(Failure::into_text)
            }
            other => other.map_err(Failure::into_text),
        }
    }

    fn write_request(&mut self, path: &str, body: &[u8]) {
        use std::io::Write;
        self.request.clear();
        // Writing into a Vec cannot fail.
        let _ = write!(
            self.request,
            "POST {}{path} HTTP/1.1\r\nhost: {}\r\nauthorization: {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.target.prefix,
            self.target.host,
            self.authorization,
            body.len()
        );
        self.request.extend_from_slice(body);
    }

    async fn send_and_read(&mut self) -> Result<Answer, Failure> {
        let stream = match &mut self.stream {
            Some(stream) => stream,
            None => self.stream.insert(connect(&self.target).await?),
        };
        stream.write_all(&self.request).await.map_err(Failure::io)?;
        self.buffer.clear();
        let (answer, keep) = read_answer(stream, &mut self.buffer).await?;
        if !keep {
            self.stream = None;
        }
        Ok(answer)
    }
}

async fn connect(target: &Target) -> Result<TcpStream, Failure> {
    let stream = TcpStream::connect(&target.address)
        .await
        .map_err(|e| Failure::Other(format!("connect: {e}")))?;
    stream
        .set_nodelay(true)
        .map_err(|e| Failure::Other(e.to_string()))?;
    Ok(stream)
}

/// Why an exchange failed: `Closed` when the connection ended before any byte of an
/// answer (the server had closed it), which may be tried again on a new one.
enum Failure {
    Closed,
    Other(String),
}

impl Failure {
    fn io(error: std::io::Error) -> Failure {
        use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset};
        match error.kind() {
            BrokenPipe | ConnectionReset | ConnectionAborted => Failure::Closed,
            _ => Failure::Other(error.to_string()),
        }
    }

    fn into_text(self) -> String {
        match self {
            Failure::Closed => "connection closed before an answer".into(),
            Failure::Other(text) => text,
        }
    }
}

/// How the answer's body is delimited.
enum Framing {
    Length(usize),
    Chunked,
    /// Until the server closes the connection.
    Close,
}

/// Reads one answer; also says whether the connection may be used again.
async fn read_answer(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Result<(Answer, bool), Failure> {
    let (status, head, framing, keep) = loop {
        if fill(stream, buffer).await? == 0 {
            return Err(if buffer.is_empty() {
                Failure::Closed
            } else {
                Failure::Other("connection closed inside an answer's head".into())
            });
        }
        if let Some(parsed) = parse_head(buffer)? {
            break parsed;
        }
        if buffer.len() > MAX_HEAD {
            return Err(Failure::Other("answer head too large".into()));
        }
    };
    let body = match framing {
        Framing::Length(length) => {
            while buffer.len() < head + length {
                if fill(stream, buffer).await? == 0 {
                    return Err(Failure::Other("connection closed inside a body".into()));
                }
            }
            buffer[head..head + length].to_vec()
        }
        Framing::Chunked => read_chunked(stream, buffer, head).await?,
        Framing::Close => {
            while fill(stream, buffer).await? > 0 {}
            buffer[head..].to_vec()
        }
    };
    Ok((
        Answer { status, body },
        keep && !matches!(framing, Framing::Close),
    ))
}

/// Reads more bytes onto the buffer; 0 at the end of the stream.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Result<usize, Failure> {
    if buffer.capacity() - buffer.len() < 8 * 1024 {
        buffer.reserve(16 * 1024);
    }
    stream.read_buf(buffer).await.map_err(Failure::io)
}

/// The status, the head's length, the body's framing and whether the connection stays
/// open; `None` while the head is incomplete.
fn parse_head(buffer: &[u8]) -> Result<Option<(u16, usize, Framing, bool)>, Failure> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buffer) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(Failure::Other(format!("malformed answer: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let mut framing = Framing::Close;
    let mut keep = response.version == Some(1);
    for header in response.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = value
                .parse()
                .map_err(|_| Failure::Other(format!("content-length {value:?}")))?;
            framing = Framing::Length(length);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            framing = Framing::Chunked;
        } else if header.name.eq_ignore_ascii_case("connection") {
            keep = !value.eq_ignore_ascii_case("close");
        }
    }
    // 1xx, 204 and 304 answers have no body.
    if status < 200 || status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok(Some((status, head, framing, keep)))
}

/// A chunked body from `start` in the buffer on; reads until the last chunk and its
/// trailer have arrived.
async fn read_chunked(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
    start: usize,
) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    let mut at = start;
    loop {
        match httparse::parse_chunk_size(&buffer[at..]) {
            Ok(httparse::Status::Complete((size_len, 0))) => {
                // The last chunk: wait for the (empty) trailer's CRLF.
                let end = at + size_len;
                while !buffer[end..].windows(2).any(|w| w == b"\r\n") {
                    if fill(stream, buffer).await? == 0 {
                        return Err(Failure::Other("connection closed inside a trailer".into()));
                    }
                }
                return Ok(body);
            }
            Ok(httparse::Status::Complete((size_len, size))) => {
                let size =
                    usize::try_from(size).map_err(|_| Failure::Other("chunk too large".into()))?;
                let data = at + size_len;
                while buffer.len() < data + size + 2 {
                    if fill(stream, buffer).await? == 0 {
                        return Err(Failure::Other("connection closed inside a chunk".into()));
                    }
                }
                body.extend_from_slice(&buffer[data..data + size]);
                at = data + size + 2;
            }
            Ok(httparse::Status::Partial) => {
                if fill(stream, buffer).await? == 0 {
                    return Err(Failure::Other("connection closed inside a chunk".into()));
                }
            }
            Err(_) => return Err(Failure::Other("malformed chunk".into())),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that reads one request per answer it was given, answers with it and
    /// closes the connection after the last one; returns the requests it read.
    async fn serve(answers: Vec<&'static [u8]>) -> (Target, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/api", listener.local_addr().unwrap());
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut requests = Vec::new();
            for answer in answers {
                let mut request = Vec::new();
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = socket.read(&mut chunk).await.unwrap();
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .unwrap()
                            .parse()
                            .unwrap();
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                requests.push(String::from_utf8(request).unwrap());
                socket.write_all(answer).await.unwrap();
            }
            requests
        });
        (Target::parse(&base).unwrap(), handle)
    }

    #[tokio::test]
    async fn reads_length_and_chunked_answers_on_one_connection() {
        let (target, server) = serve(vec![
            b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\n{\"a\":1}",
            b"HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n3\r\n{\"b\r\n4\r\n\":2}\r\n0\r\n\r\n",
        ])
        .await;
        let mut client = Client::new(target, "tok");
        let first = client.post("/v1/x", b"{\"q\":1}").await.unwrap();
        assert_eq!(
            (first.status, first.body.as_slice()),
            (200, &b"{\"a\":1}"[..])
        );
        let second = client.post("/v1/y", b"[]").await.unwrap();
        assert_eq!(
            (second.status, second.body.as_slice()),
            (409, &b"{\"b\":2}"[..])
        );
        let requests = server.await.unwrap();
        assert!(requests[0].starts_with("POST /api/v1/x HTTP/1.1\r\n"));
        assert!(requests[0].contains("authorization: Bearer tok\r\n"));
        assert!(requests[0].ends_with("\r\n\r\n{\"q\":1}"));
        assert!(requests[1].starts_with("POST /api/v1/y HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn a_connection_opened_ahead_carries_the_first_call() {
        // The server accepts one connection only: a call on another would wait for an
        // answer that never comes.
        let (target, server) = serve(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]).await;
        let mut client = Client::new(target, "t");
        client.open().await.unwrap();
        client.open().await.unwrap();
        assert_eq!(client.post("/a", b"{}").await.unwrap().body, b"ok");
        assert_eq!(server.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_connection_closed_by_the_server_is_opened_again() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            // The first connection answers once and is closed; the second answers.
            for _ in 0..2 {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut chunk = [0u8; 4096];
                let _ = socket.read(&mut chunk).await.unwrap();
                socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
        });
        let mut client = Client::new(Target::parse(&base).unwrap(), "t");
        assert_eq!(client.post("/a", b"{}").await.unwrap().body, b"ok");
        // Give the server's close time to arrive, so the reused connection is dead.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(client.post("/a", b"{}").await.unwrap().body, b"ok");
        server.await.unwrap();
    }

    #[test]
    fn only_http_targets_are_taken() {
        assert!(Target::parse("https://example.com").is_err());
        let target = Target::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(
            (
                target.address.as_str(),
                target.host.as_str(),
                target.prefix.as_str()
            ),
            ("127.0.0.1:8080", "127.0.0.1:8080", "")
        );
        let target = Target::parse("http://localhost").unwrap();
        assert_eq!(
            (target.address.as_str(), target.host.as_str()),
            ("localhost:80", "localhost")
        );
    }
}

//! `--follow` shows the agent's work while the deployment runs: against a server of its
//! own here (not the crate's simulator), whose deployment runs 12 s while its answer grows
//! part by part, the first reasoning and tool-call lines arrive before the server first
//! says `Completed`, in order, each once; with --json, every line is a JSON object.

mod support;

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{TcpListener, TcpStream},
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// How long each deployment runs.
const RUNNING: Duration = Duration::from_secs(12);

/// A minimal Agents API: tasks and deployments made on request, each deployment `Running`
/// for [`RUNNING`] from its creation, its conversation growing over that time.
struct Server {
    url: String,
    /// Set once any deployment has been answered as `Completed`.
    completed: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
        let completed = Arc::new(AtomicBool::new(false));
        let created: Arc<Mutex<Vec<Instant>>> = Arc::default();
        let flag = completed.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (flag, created) = (flag.clone(), created.clone());
                std::thread::spawn(move || serve(stream, &flag, &created));
            }
        });
        Server { url, completed }
    }
}

/// Answers one request (and closes the connection).
fn serve(mut stream: TcpStream, completed: &AtomicBool, created: &Mutex<Vec<Instant>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    let since = |body: &Value| {
        let id = body["deploymentId"].as_str().unwrap_or("A-0");
        let n: usize = id.trim_start_matches("A-").parse().unwrap_or(0);
        let created = created.lock().unwrap();
        (
            id.to_owned(),
            created.get(n).map_or(RUNNING, Instant::elapsed),
        )
    };
    let answer = match path.trim_start_matches("/api/v2") {
        "/agents/tasks/create" => json!({"success": true, "task": {
            "id": 7, "name": body["name"], "agentId": body["agentId"],
        }}),
        "/agents/deployments/create" => {
            let mut created = created.lock().unwrap();
            created.push(Instant::now());
            let id = format!("A-{}", created.len() - 1);
            json!({"success": true, "deployment": {"deploymentId": id, "taskId": 7, "status": "InQueue"}})
        }
        "/agents/deployments/read" => {
            let (id, since) = since(&body);
            let status = if since >= RUNNING {
                completed.store(true, Ordering::SeqCst);
                "Completed"
            } else {
                "Running"
            };
            json!({"success": true, "deployment": {"deploymentId": id, "taskId": 7, "status": status}})
        }
        "/agents/deployments/conversation/read" => {
            let (id, since) = since(&body);
            json!({"success": true, "conversation": {"id": id, "messages": conversation(since)}})
        }
        "/agents/deployments/delete" | "/agents/tasks/delete" => json!({"success": true}),
        _ => json!({"success": false, "errors": [format!("no {path} here")]}),
    };
    let answer = answer.to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{answer}",
        answer.len()
    );
}

/// The conversation `since` the deployment was created: the prompt at once, then the
/// answer growing: reasoning at 1 s, a tool call at 2 s that has its outcome at 5 s, more
/// reasoning at 8 s, the text at 10 s. (The follower reads at about 0, 1, 3, 7 and 15 s, or
/// earlier: the call is done by a read before 12 s.)
fn conversation(since: Duration) -> Value {
    let at = since.as_secs_f64();
    let mut parts = Vec::new();
    if at >= 1.0 {
        parts.push(json!({"type": "step-start"}));
        parts.push(json!({"type": "reasoning", "text": "Reading the data first."}));
    }
    if at >= 2.0 {
        let state = if at >= 5.0 {
            "output-available"
        } else {
            "input-available"
        };
        parts.push(
            json!({"type": "dynamic-tool", "toolName": "read_file", "state": state,
                          "input": {"filePath": "data.csv"},
                          "output": {"structuredContent": {"success": at >= 5.0}}}),
        );
    }
    if at >= 8.0 {
        parts.push(json!({"type": "reasoning", "text": "Now the backtest."}));
    }
    if at >= 10.0 {
        parts.push(json!({"type": "text", "text": "All done."}));
    }
    let mut messages = vec![
        json!({"id": "m-0", "role": "user", "time": "2026-12-01 10:00:00",
                                   "parts": [{"type": "text", "text": "Summarize data.csv"}]}),
    ];
    if !parts.is_empty() {
        messages.push(json!({"id": "m-1", "role": "assistant", "parts": parts}));
    }
    Value::Array(messages)
}

/// Runs `qc-agents run --follow` (with `extra` flags) against `server`; returns each stdout
/// line with whether the server had already said `Completed` when it arrived.
fn run_follow(server: &Server, extra: &[&str]) -> (Vec<(String, bool)>, i32) {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(support::BIN)
        .args([
            "run",
            "--agent",
            "47",
            "--name",
            "live",
            "--prompt",
            "Summarize data.csv",
        ])
        .arg("--follow")
        .args(extra)
        .env_clear()
        .env("HOME", home.path())
        .env("QC_API_URL", &server.url)
        .env("QC_USER_ID", support::USER)
        .env("QC_API_TOKEN", support::TOKEN)
        .env("QC_ORGANIZATION_ID", "org-live")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = stdout
        .lines()
        .map(|line| (line.unwrap(), server.completed.load(Ordering::SeqCst)))
        .collect();
    let status = child.wait().unwrap();
    (lines, status.code().unwrap_or(-1))
}

#[test]
fn run_follow_prints_the_agents_work_before_the_deployment_completes_in_order_once() {
    let server = Server::start();
    let (lines, code) = run_follow(&server, &[]);
    assert_eq!(code, 0, "{lines:#?}");
    let texts: Vec<&str> = lines.iter().map(|(text, _)| text.as_str()).collect();
    let position = |wanted: &str| {
        let found: Vec<usize> = (0..texts.len()).filter(|&i| texts[i] == wanted).collect();
        assert_eq!(found.len(), 1, "{wanted:?} once in {texts:#?}");
        found[0]
    };
    let thinking = position("  (thinking) Reading the data first.");
    let tool = position("  tool read_file data.csv: done");
    let answer = position("  All done.");
    assert!(thinking < tool && tool < answer, "{texts:#?}");
    assert!(
        !lines[thinking].1 && !lines[tool].1,
        "the reasoning and the tool call show while the deployment runs: {lines:#?}"
    );
    assert_eq!(
        position("  Summarize data.csv"),
        position("user 2026-12-01 10:00:00") + 1
    );
}

#[test]
fn run_follow_json_streams_one_json_event_per_line_then_the_outcome() {
    let server = Server::start();
    let (lines, code) = run_follow(&server, &["--json"]);
    assert_eq!(code, 0, "{lines:#?}");
    let values: Vec<Value> = lines
        .iter()
        .map(|(text, _)| serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}")))
        .collect();
    assert!(
        !lines[0].1,
        "the first line arrives while the deployment runs"
    );
    let (outcome, events) = values.split_last().unwrap();
    assert_eq!(outcome["outcome"], "completed", "{outcome}");
    assert!(events.iter().all(|e| e["event"].is_string()), "{events:#?}");
    let parts: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "part" && e["messageId"] == "m-1")
        .collect();
    let indexes: Vec<u64> = parts.iter().map(|p| p["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, [0, 1, 2, 3, 4], "each part once, in order");
    let first_reasoning = events
        .iter()
        .position(|e| e["part"]["type"] == "reasoning")
        .unwrap();
    assert!(!lines[first_reasoning].1, "{lines:#?}");
    assert_eq!(events.last().unwrap()["event"], "deployment_ended");
}

#[test]
fn a_follow_cut_short_by_the_max_wait_shows_the_rest_once_after_it() {
    let server = Server::start();
    // At 9 s the tool call is shown and the second reasoning not settled yet.
    let (lines, code) = run_follow(&server, &["--max-wait", "9s"]);
    assert_eq!(code, 5, "{lines:#?}");
    let texts: Vec<&str> = lines.iter().map(|(text, _)| text.as_str()).collect();
    for wanted in [
        "  (thinking) Reading the data first.",
        "  tool read_file data.csv: done",
        "  (thinking) Now the backtest.",
    ] {
        let count = texts.iter().filter(|t| **t == wanted).count();
        assert_eq!(count, 1, "{wanted:?} once in {texts:#?}");
    }
}

//! What a response costs in memory, whatever its shape: peak memory (max RSS) of decoding
//! the worst shapes the client admits, and of `qc-agents` printing them as JSON and as a
//! table. Each measurement is its own process, served by a loopback server in this one.
//!
//! `cargo bench --bench memory` (after `cargo build --release -p quantconnect-agents-cli`
//! for the CLI rows; `scripts/memory.sh` does both) prints a Markdown table for the README.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    process::Command,
    sync::Arc,
};

use quantconnect_agents::{
    Client, Credentials, DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_OBJECTS, MAX_RESPONSE_VALUES,
};

/// The shapes measured: name, what it is, the command that reads it.
const SHAPES: &[(&str, &str, Op)] = &[
    (
        "objects",
        "262,142 empty agents `{}` (the object limit; `Agent` is the largest model)",
        Op::Agents,
    ),
    ("tasks", "262,142 empty tasks `{}`", Op::Tasks),
    (
        "values",
        "2,097,140 numbers in one task's `upcomingDeployments` (the value limit)",
        Op::Tasks,
    ),
    (
        "keys",
        "one object of 1,048,570 keys in a task (the value limit)",
        Op::Tasks,
    ),
    (
        "nesting",
        "tasks holding 100-deep nested arrays, to the value limit",
        Op::Tasks,
    ),
    (
        "errors",
        "`success: false` with 1,048,572 errors (the value limit: a string and a comma each)",
        Op::Agents,
    ),
    (
        "bound",
        "32 MiB of `{}` (the body bound; refused by the object limit)",
        Op::Agents,
    ),
    (
        "conversation",
        "a conversation of 2,000 messages of 4 KiB (admitted)",
        Op::Conversation,
    ),
];

#[derive(Clone, Copy)]
enum Op {
    Agents,
    Tasks,
    Conversation,
}

fn repeat(item: &str, n: usize) -> String {
    vec![item; n].join(",")
}

fn body(shape: &str) -> String {
    let ok = |key: &str, items: String| format!(r#"{{"success":true,"{key}":[{items}]}}"#);
    match shape {
        "objects" => ok("agents", repeat("{}", MAX_RESPONSE_OBJECTS - 2)),
        "tasks" => ok("tasks", repeat("{}", MAX_RESPONSE_OBJECTS - 2)),
        "values" => ok(
            "tasks",
            format!(
                r#"{{"upcomingDeployments":[{{"a":[{}]}}]}}"#,
                repeat("1", MAX_RESPONSE_VALUES - 12)
            ),
        ),
        "keys" => {
            let keys: Vec<String> = (0..MAX_RESPONSE_VALUES / 2 - 8)
                .map(|i| format!(r#""k{i}":0"#))
                .collect();
            ok(
                "tasks",
                format!(r#"{{"upcomingDeployments":[{{{}}}]}}"#, keys.join(",")),
            )
        }
        "nesting" => {
            let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
            let task = format!(r#"{{"upcomingDeployments":[{{"a":{deep}}}]}}"#);
            ok("tasks", repeat(&task, MAX_RESPONSE_VALUES / 110))
        }
        "errors" => format!(
            r#"{{"success":false,"errors":[{}]}}"#,
            repeat(r#""e""#, MAX_RESPONSE_VALUES / 2 - 4)
        ),
        "bound" => ok("agents", repeat("{}", DEFAULT_MAX_RESPONSE_BYTES / 3 - 20)),
        "conversation" => {
            let text = "x".repeat(4096);
            let message = format!(
                r#"{{"id":"m","role":"assistant","parts":[{{"type":"text","text":"{text}"}}]}}"#
            );
            format!(
                r#"{{"success":true,"conversation":{{"messages":[{}]}}}}"#,
                repeat(&message, 2000)
            )
        }
        other => panic!("no shape {other}"),
    }
}

/// Serves `body` to every request on 127.0.0.1, on threads, until the process ends.
fn serve(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v2", listener.local_addr().unwrap());
    let body = Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let body = body.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut length = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut request = vec![0; length];
                let _ = reader.read_exact(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let mut stream = &stream;
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            });
        }
    });
    url
}

/// Runs `command` to its end and returns its peak memory in MiB and whether it succeeded,
/// through a fresh copy of this bench (`--measure`), since a child's peak counts the
/// memory of the process that forked it.
fn peak(command: Command) -> (f64, bool) {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--measure")
        .arg(command.get_program())
        .args(command.get_args())
        .envs(command.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .output()
        .expect("spawn");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let mib = words
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(f64::NAN);
    (mib, words.next() == Some("ok"))
}

/// In a fresh process: runs `program args`, prints its peak memory in MiB and `ok` or `failed`.
fn measure(program: &str, args: &[String]) -> ! {
    let child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut status = 0;
    // SAFETY: waits for our own child, once, with valid out-pointers.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::wait4(child.id() as i32, &mut status, 0, &mut usage);
        usage
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let verdict = if ok { "ok" } else { "failed" };
    println!("{} {verdict}", usage.ru_maxrss as f64 / 1024.0);
    std::process::exit(0)
}

/// In a child process: reads `op` from `url` through the library.
fn child(op: &str, url: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::builder(Credentials::new("1", "t"))
        .base_url(url)
        .organization_id("o")
        .build()
        .unwrap();
    let ok = runtime.block_on(async {
        match op {
            "agents" => client.list_agents().await.map(|a| a.len()),
            "tasks" => client.list_agent_tasks().await.map(|t| t.len()),
            _ => client
                .read_agent_conversation("A-1")
                .await
                .map(|c| c.messages.len()),
        }
    });
    // The error's message is made, as a caller would print it.
    let ok = ok.map_err(|e| e.to_string()).is_ok();
    std::process::exit(if ok { 0 } else { 1 })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        measure(&args[i + 1], &args[i + 2..]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], &args[i + 2]);
    }
    let cli = std::env::var("QC_AGENTS_BIN").unwrap_or_else(|_| "target/release/qc-agents".into());
    let cli_exists = std::path::Path::new(&cli).exists();
    if !cli_exists {
        eprintln!(
            "{cli} not found: CLI rows skipped (cargo build --release -p quantconnect-agents-cli)"
        );
    }
    println!("| shape | body | library | CLI `--json` | CLI table |");
    println!("| --- | --- | --- | --- | --- |");
    let me = std::env::current_exe().unwrap();
    for (shape, what, op) in SHAPES {
        let body = body(shape);
        let size = body.len() as f64 / (1024.0 * 1024.0);
        let url = serve(body);
        let (name, args): (&str, &[&str]) = match op {
            Op::Agents => ("agents", &["agents", "list"]),
            Op::Tasks => ("tasks", &["tasks", "list"]),
            Op::Conversation => ("conversation", &["conversation", "A-1"]),
        };
        let mut lib = Command::new(&me);
        lib.args(["--child", name, &url]);
        let show = |(mib, ok): (f64, bool)| {
            format!("{mib:.0} MiB ({})", if ok { "read" } else { "error" })
        };
        let lib = show(peak(lib));
        let run_cli = |json: bool| {
            if !cli_exists {
                return "-".to_owned();
            }
            let mut command = Command::new(&cli);
            command
                .env("QC_USER_ID", "1")
                .env("QC_API_TOKEN", "t")
                .args(["--api-url", &url, "--organization", "o"]);
            if json {
                command.arg("--json");
            }
            command.args(args);
            show(peak(command))
        };
        println!(
            "| {what} | {size:.1} MiB | {lib} | {} | {} |",
            run_cli(true),
            run_cli(false)
        );
    }
}

//! What `qc-agents` reads: prompts too long for the command line (`--prompt-file`, `-` for
//! stdin), and lean-cli's credentials file, which `login` updates without losing anything
//! or being tricked.

mod support;

use std::{io::Write as _, path::Path, process::Stdio};

use httpmock::MockServer;
use support::{bare, fast, run, Sim, TOKEN, USER};

#[test]
fn a_one_mib_prompt_from_stdin_reaches_the_server_whole() {
    let prompt: String = (0..(1 << 20))
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    let server = MockServer::start();
    let expected = prompt.clone();
    let create = server.mock(|when, then| {
        when.method("POST")
            .path("/api/v2/agents/tasks/create")
            .is_true(move |req| {
                serde_json::from_slice::<serde_json::Value>(req.body().as_ref())
                    .is_ok_and(|body| body["prompt"] == expected.as_str())
            });
        then.status(200)
            .header("content-type", "application/json")
            .body(r#"{"success": true, "task": {"id": 9, "name": "big"}}"#);
    });
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(support::BIN)
        .args([
            "tasks",
            "create",
            "--api-url",
            &server.url("/api/v2"),
            "--organization",
            "org-1",
            "--agent",
            "47",
            "--name",
            "big",
            "--prompt-file",
            "-",
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("QC_USER_ID", USER)
        .env("QC_API_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(prompt.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("created task 9"));
    create.assert_calls(1);
}

#[test]
fn prompts_come_from_a_file_and_a_lone_dash_is_refused() {
    let sim = Sim::start(fast());
    let file = sim.home.path().join("prompt.txt");
    std::fs::write(&file, "line one\nline two\n").unwrap();
    let file = file.to_str().unwrap();
    let ran = run(
        &mut sim.cmd(),
        &[
            "tasks",
            "create",
            "--json",
            "--agent",
            "47",
            "--name",
            "f",
            "--prompt-file",
            file,
        ],
    )
    .ok();
    let task: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(task["prompt"], "line one\nline two\n");
    let args = [
        "run",
        "--json",
        "--agent",
        "47",
        "--name",
        "r",
        "--prompt-file",
        file,
    ];
    let ran = run(&mut sim.cmd(), &args).ok();
    let v: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(v["outcome"], "completed");
    assert_eq!(v["task"]["prompt"], "line one\nline two\n");

    let ran = run(
        &mut sim.cmd(),
        &[
            "tasks", "create", "--agent", "47", "--name", "d", "--prompt", "-",
        ],
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("--prompt-file -"), "{}", ran.stderr);
    // Both, or neither: a usage error.
    for args in [
        &["tasks", "create", "--agent", "47", "--name", "d"][..],
        &[
            "tasks",
            "create",
            "--agent",
            "47",
            "--name",
            "d",
            "--prompt",
            "x",
            "--prompt-file",
            file,
        ],
    ] {
        assert_eq!(run(&mut sim.cmd(), args).code, Some(2), "{args:?}");
    }
    let ran = run(
        &mut sim.cmd(),
        &[
            "agents",
            "create",
            "--name",
            "a",
            "--system-prompt-file",
            file,
        ],
    )
    .ok();
    assert!(ran.stdout.contains("line two"), "{}", ran.stdout);
}

// --- login ----------------------------------------------------------------------------

fn login(home: &Path) -> support::Ran {
    run(
        &mut bare(home),
        &[
            "login",
            "--user-id",
            "42",
            "--api-token",
            "new-token",
            "--no-verify",
        ],
    )
}

fn keys(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn login_refuses_to_overwrite_a_file_it_cannot_parse() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join(".lean/credentials");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let broken = "{\"user-id\": \"1\", \"api-token\": \"old\", \"other\": 5,}\n";
    std::fs::write(&path, broken).unwrap();
    let ran = login(home.path());
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("not a JSON object"), "{}", ran.stderr);
    assert!(ran.stderr.contains("left as it is"), "{}", ran.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
}

#[cfg(unix)]
#[test]
fn login_writes_through_a_symlink_to_its_target() {
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("dotfiles/lean-credentials");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, r#"{"user-id": "1", "api-token": "old", "other": 5}"#).unwrap();
    let link = home.path().join(".lean/credentials");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    login(home.path()).ok();
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let data = keys(&real);
    assert_eq!(
        (data["api-token"].as_str(), data["other"].as_i64()),
        (Some("new-token"), Some(5))
    );
    // A link to nothing is refused and left.
    std::fs::remove_file(&real).unwrap();
    let ran = login(home.path());
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert!(ran.stderr.contains("symlink"), "{}", ran.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(!real.exists());
}

#[cfg(unix)]
#[test]
fn login_warns_when_others_can_write_the_directory_or_the_file() {
    use std::os::unix::fs::PermissionsExt as _;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".lean");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ran = login(home.path()).ok();
    assert!(
        ran.stderr.contains("writable by others (mode 777)"),
        "{}",
        ran.stderr
    );
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = dir.join("credentials");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let ran = login(home.path()).ok();
    assert!(
        ran.stderr.contains("credentials is writable by others"),
        "{}",
        ran.stderr
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the new file is private");
    assert_eq!(
        login(home.path()).ok().stderr,
        "",
        "no warning once private"
    );
}

#[cfg(unix)]
#[test]
fn login_neither_uses_nor_deletes_files_planted_next_to_the_credentials() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".lean");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = home.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    // Names the old code used (its pid), as files and as links to another file.
    let mut planted = vec![];
    for pid in 1..200u32 {
        let path = dir.join(format!(".credentials.qc-agents.{pid}"));
        if pid % 2 == 0 {
            std::fs::write(&path, "planted").unwrap();
        } else {
            std::os::unix::fs::symlink(&victim, &path).unwrap();
        }
        planted.push(path);
    }
    login(home.path()).ok();
    for path in &planted {
        assert!(
            std::fs::symlink_metadata(path).is_ok(),
            "{} was removed",
            path.display()
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(keys(&dir.join("credentials"))["api-token"], "new-token");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), planted.len() + 1);
}

//! `qc-agents completions SHELL` and `qc-agents man`.

use assert_cmd::Command;

fn qc_agents(args: &[&str]) -> String {
    let out = Command::cargo_bin("qc-agents")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn completions_for_each_shell_and_bash_sources_them() {
    for (shell, mark) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef qc-agents"),
        ("fish", "complete -c qc-agents"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let script = qc_agents(&["completions", shell]);
        assert!(script.contains(mark), "{shell}: {script:.200}");
        assert!(
            script.contains("deployments"),
            "{shell} completes the commands"
        );
    }
    let bin = assert_cmd::cargo::cargo_bin("qc-agents");
    let sourced = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{}' completions bash) && complete -p qc-agents",
            bin.display()
        ))
        .output()
        .unwrap();
    assert!(
        sourced.status.success(),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    assert!(String::from_utf8_lossy(&sourced.stdout).contains("qc-agents"));
}

#[test]
fn the_manual_page_is_roff_naming_the_commands() {
    let page = qc_agents(&["man"]);
    assert!(page.contains(".TH qc-agents 1"), "{page:.200}");
    assert!(page.contains("deployments"), "{page:.400}");
}

#[test]
fn version_is_a_command_too() {
    let version = qc_agents(&["version"]);
    assert_eq!(version, qc_agents(&["--version"]));
    assert_eq!(
        version,
        format!("qc-agents {}\n", env!("CARGO_PKG_VERSION"))
    );
}

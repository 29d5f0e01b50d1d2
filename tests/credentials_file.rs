//! lean-cli's credentials file is read safely: anything but a regular file of at most
//! 64 KiB is refused, naming the path, without blocking or reading without bound.
#![cfg(unix)]

use std::path::PathBuf;

use quantconnect_agents::{auth::MAX_CREDENTIALS_FILE_BYTES, Credentials, Error};

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("qca-credentials-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn refused(path: &std::path::Path, why: &str) {
    let err = Credentials::from_lean_file(path).unwrap_err();
    assert!(
        matches!(&err, Error::CredentialsFile { path: p, reason } if p == path && reason.contains(why)),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}

#[test]
fn a_fifo_a_device_a_directory_and_a_large_file_are_refused() {
    let dir = dir("kinds");
    // A FIFO with no writer: opening it would block forever.
    let fifo = dir.join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    refused(&fifo, "not a regular file");
    // A link to /dev/zero: reading it would never end.
    let zero = dir.join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    refused(&zero, "not a regular file");
    refused(&dir, "not a regular file");
    let large = dir.join("large");
    let padding = " ".repeat(MAX_CREDENTIALS_FILE_BYTES as usize);
    std::fs::write(
        &large,
        format!(r#"{{"user-id":"1","api-token":"t"{padding}}}"#),
    )
    .unwrap();
    refused(&large, "larger than 65536 bytes");
    let missing = dir.join("missing");
    std::os::unix::fs::symlink(dir.join("nowhere"), &missing).unwrap();
    refused(&missing, "No such file");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_regular_file_and_a_link_to_one_are_read() {
    let dir = dir("regular");
    let file = dir.join("credentials");
    std::fs::write(&file, r#"{"user-id": 123, "api-token": "t"}"#).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    for path in [&file, &link] {
        let credentials = Credentials::from_lean_file(path).unwrap();
        assert_eq!(credentials.user_id(), "123");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

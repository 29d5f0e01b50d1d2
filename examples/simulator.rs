//! Serves the embedded simulator until Ctrl-C, for tools outside Rust or for
//! `cargo xtask record`:
//!
//! ```sh
//! cargo run --example simulator
//! # then, in another shell, paste the printed exports and run e.g.
//! cargo run --example lifecycle
//! ```

use quantconnect_agents::simulator::Simulator;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let simulator = match Simulator::start().await {
        Ok(simulator) => simulator,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("# the QuantConnect Agents API simulator is serving; Ctrl-C stops it");
    println!("export QC_API_URL={}", simulator.base_url());
    println!("export QC_USER_ID={}", simulator.credentials().user_id());
    println!(
        "export QC_API_TOKEN={}",
        simulator.credentials().expose_api_token()
    );
    println!("export QC_ORGANIZATION_ID={}", simulator.organization_id());
    let _ = tokio::signal::ctrl_c().await;
    println!("# {} requests served", simulator.requests().len());
    std::process::ExitCode::SUCCESS
}

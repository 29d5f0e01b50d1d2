//! The stop signals: SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`, CI cancelling) and SIGHUP
//! (the terminal closing), caught and handled alike.

/// A signal that asks the process to stop: Ctrl-C, `kill`/`timeout`/CI cancelling, or the
/// terminal closing. All three are handled alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP.
    Hangup,
}

impl Signal {
    /// Its number: the exit status is 128 plus it, as a shell reports a signal.
    pub fn number(self) -> u8 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            Signal::Hangup => 1,
        }
    }

    /// `SIGINT`, `SIGTERM`, `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }
}

/// The stop signals, caught from the moment [`Signals::listen`] returns.
pub struct Signals {
    #[cfg(unix)]
    streams: [Option<tokio::signal::unix::Signal>; 3],
}

impl Signals {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on (Ctrl-C only off Unix). A signal that
    /// cannot be caught keeps its default action, which ends the process.
    pub fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let catch = |kind| signal(kind).ok();
            Signals {
                streams: [
                    catch(SignalKind::interrupt()),
                    catch(SignalKind::terminate()),
                    catch(SignalKind::hangup()),
                ],
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal; never, if none can be caught.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn recv(stream: &mut Option<tokio::signal::unix::Signal>) {
                let received = match stream {
                    Some(stream) => stream.recv().await,
                    None => None,
                };
                if received.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            let [int, term, hup] = &mut self.streams;
            tokio::select! {
                () = recv(int) => Signal::Interrupt,
                () = recv(term) => Signal::Terminate,
                () = recv(hup) => Signal::Hangup,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        }
    }
}

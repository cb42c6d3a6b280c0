//! The `mediabot` binary: see the library's [`mediabot::run`].

fn main() -> std::process::ExitCode {
    mediabot::run()
}

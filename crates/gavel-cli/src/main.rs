//! The `gavel` command line: decide, confine, sign and verify what an AI agent may do.
//!
//! The process entry is a C `main` (`no_main`): std's runtime start-up, which reads and
//! parses `/proc/self/maps` to place a stack-overflow guard for the main thread, costs
//! about 0.06 ms, a tenth of what a one-shot command like `gavel exec` or `gavel hook`
//! adds around the agent's action. What that start-up does that matters is done here
//! ([`startup`]): fds 0-2 are made to exist (opened on /dev/null when closed, so that
//! no file gavel opens can become its stdout or stderr), SIGPIPE is ignored. A stack
//! overflow then ends in SIGSEGV at the kernel's guard gap instead of std's message.

#![cfg_attr(not(test), no_main)]

mod cmd;
mod failure;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gavel::StateDir;

use failure::{CmdResult, EXIT_BAD_INPUT, EXIT_EXEC_GAVEL_ERROR};

const EXIT_CODES: &str = "\
Exit status:
  check-policy   0 allowed, 1 denied, 2 bad input
  verify         0 all valid, 1 at least one invalid, 2 undecidable or bad input
  exec           the command's own status (128+N when killed by signal N),
                 126 denied by policy, 127 command not found, 125 gavel error
  other          0 done, 2 bad input";

/// Decide, confine, sign and verify what an AI agent may do.
#[derive(Debug, Parser)]
#[command(name = "gavel", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// State directory (keys/, receipts/, trust scores, audit log).
    /// Default: $GAVEL_HOME, else $XDG_STATE_HOME/gavel, else ~/.local/state/gavel.
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Subcommands' arguments are built only for the one invoked (`defer`): building the
/// whole tree cost about 0.15 ms on every run of one-shot commands (exec, hook,
/// check-policy).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
enum Command {
    /// Run the governed demo: one policy, three sandbox backends, signed and verified receipts.
    Demo(cmd::demo::DemoArgs),
    /// Decide on one action; print the decision and write its signed receipt.
    CheckPolicy(cmd::check::CheckArgs),
    /// Decide, then run a command confined (Landlock + seccomp, or nono), and sign what ran.
    Exec(cmd::exec::ExecArgs),
    /// Claude Code / Codex PreToolUse and PostToolUse hook (reads the event on stdin).
    Hook(cmd::hook::HookArgs),
    /// Stdio proxy in front of an MCP server that decides every tools/call.
    McpProxy(cmd::mcp::McpArgs),
    /// Verify receipts offline: a file, a receipts directory, or a JSONL file.
    Verify(cmd::verify::VerifyArgs),
    /// Manage operator keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the public key of the operator key.
    PublicKey(cmd::keys::PublicKeyArgs),
    /// Print an agent's trust score.
    TrustScore(cmd::trust::ScoreArgs),
    /// Change trust scores.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Show recent audit log entries.
    Audit(cmd::trust::AuditArgs),
    /// Validate a policy or print its digest.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
}

#[derive(Debug, Subcommand)]
enum TrustCommand {
    /// Add a delta to an agent's trust score (clamped to [0, 1]).
    Adjust(cmd::trust::AdjustArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create a new Ed25519 operator key (PKCS#8 PEM, mode 0600).
    Generate(cmd::keys::GenerateArgs),
}

fn run(cli: Cli) -> CmdResult {
    let state = StateDir::resolve(cli.state_dir.as_deref());
    match &cli.command {
        Command::Demo(a) => cmd::demo::run(&state, a),
        Command::CheckPolicy(a) => cmd::check::run(&state, a),
        Command::Exec(a) => cmd::exec::run(&state, a),
        Command::Hook(a) => cmd::hook::run(&state, a),
        Command::McpProxy(a) => cmd::mcp::run(&state, a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::TrustScore(a) => cmd::trust::score(&state, a),
        Command::Trust(TrustCommand::Adjust(a)) => cmd::trust::adjust(&state, a),
        Command::Audit(a) => cmd::trust::audit(&state, a),
        Command::Policy(c) => cmd::policy::run(c),
        Command::Keys(KeysCommand::Generate(a)) => cmd::keys::generate(&state, a),
        Command::PublicKey(a) => cmd::keys::public_key(&state, a),
    }
}

/// The subcommand's name as given: the first argument that is neither an option nor
/// the value of `--state-dir` (the one global option taking a value). Used only to
/// pick the exit status of a usage error (125 for exec, as for its other errors).
fn subcommand(args: &[std::ffi::OsString]) -> Option<&std::ffi::OsString> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--state-dir" {
            it.next();
        } else if !a.as_encoded_bytes().starts_with(b"-") {
            return Some(a);
        }
    }
    None
}

/// What std's runtime start-up does that gavel relies on: fds 0, 1 and 2 exist, and
/// SIGPIPE is ignored (writes to a closed pipe fail with EPIPE instead of killing
/// gavel; commands that print reports put the default back, see [`gavel_main`]).
fn startup() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll on a stack array of three pollfd; no memory is shared.
    let polled = loop {
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
        if rc >= 0 {
            break true;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break false;
        }
    };
    for pfd in &fds {
        let closed = if polled {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only queries a descriptor number.
            unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) < 0 }
        };
        // SAFETY: opens /dev/null, which takes the lowest free descriptor: this one.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } != pfd.fd {
            std::process::abort();
        }
    }
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// The process entry (see the module documentation). In the unit-test build the test
/// harness has its own entry and this one is not exported.
#[cfg_attr(not(test), unsafe(no_mangle))]
#[cfg_attr(test, allow(dead_code))]
pub extern "C" fn main(argc: libc::c_int, argv: *const *const libc::c_char) -> libc::c_int {
    startup();
    // The arguments as the C runtime passed them (std's own copy is filled by its
    // runtime start-up on some C libraries only).
    let args = c_args(argc, argv);
    let code = match std::panic::catch_unwind(|| gavel_main(args)) {
        Ok(code) => i32::from(code),
        // the panic hook has printed the message; 101 as for a Rust main that panics
        Err(_) => 101,
    };
    // std::process::exit runs std's clean-up (stdout is flushed), then exits
    std::process::exit(code)
}

/// `argv[0..argc]` as owned strings.
fn c_args(argc: libc::c_int, argv: *const *const libc::c_char) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let n = usize::try_from(argc).unwrap_or(0);
    (0..n)
        .map(|i| {
            // SAFETY: the C runtime passes argc valid, NUL-terminated argv entries that
            // live as long as the process.
            let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
            std::ffi::OsStr::from_bytes(arg.to_bytes()).to_owned()
        })
        .collect()
}

fn gavel_main(args: Vec<std::ffi::OsString>) -> u8 {
    let is_exec = subcommand(&args).is_some_and(|a| a == "exec");
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ if is_exec => EXIT_EXEC_GAVEL_ERROR,
                _ => EXIT_BAD_INPUT,
            };
            match e.kind() {
                // help and version are what was asked for, and help on a bare `gavel`
                // is the answer to a missing subcommand
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                }
                _ => eprintln!(
                    "gavel: error: {}",
                    usage_error_line(&e.render().to_string(), &args)
                ),
            }
            return code as u8;
        }
    };
    if !matches!(
        cli.command,
        Command::Hook(_) | Command::McpProxy(_) | Command::Exec(_)
    ) {
        // Commands that print reports end quietly when their reader goes away
        // (`gavel verify DIR | head`), like other Unix tools. hook, mcp-proxy and exec
        // keep SIGPIPE ignored: they must answer or exit with a status of their own.
        // SAFETY: resetting a signal disposition to its default before any thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match run(cli) {
        Ok(code) => code,
        Err(f) => {
            eprintln!("gavel: error: {}", failure::one_line(&f.message));
            f.code
        }
    };
    u8::try_from(code).unwrap_or(1)
}

/// clap's usage error as one line (cli.md: errors are one line on stderr): its message
/// lines joined, then the usage line, pointing at the subcommand's `--help`.
fn usage_error_line(rendered: &str, args: &[std::ffi::OsString]) -> String {
    let lines: Vec<&str> = rendered.lines().map(str::trim).collect();
    let message: Vec<&str> = lines
        .iter()
        .copied()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let usage = lines
        .iter()
        .find_map(|l| l.strip_prefix("Usage:"))
        .map(|u| format!("; usage: {}", u.trim()))
        .unwrap_or_default();
    // a subcommand gavel has, else the top level
    let known = subcommand(args).filter(|sub| {
        use clap::CommandFactory;
        sub.to_str()
            .is_some_and(|name| Cli::command().find_subcommand(name).is_some())
    });
    let help = match known {
        Some(sub) => format!("gavel {} --help", sub.to_string_lossy()),
        None => "gavel --help".to_owned(),
    };
    format!("{message}{usage} (see `{help}`)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent_including_deferred_subcommands() {
        // builds every subcommand (deferred ones too) and runs clap's own checks
        Cli::command().debug_assert();
        let help = Cli::command().render_help().to_string();
        for name in [
            "exec",
            "check-policy",
            "hook",
            "mcp-proxy",
            "verify",
            "demo",
        ] {
            assert!(help.contains(name), "{name} missing from --help:\n{help}");
        }
    }

    #[test]
    fn arguments_come_from_the_c_runtime_argv() {
        let owned: Vec<std::ffi::CString> = ["gavel", "exec", "--", "caf\u{e9}", ""]
            .iter()
            .map(|a| std::ffi::CString::new(*a).unwrap())
            .collect();
        let mut argv: Vec<*const libc::c_char> = owned.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let got = c_args(owned.len() as libc::c_int, argv.as_ptr());
        let want: Vec<std::ffi::OsString> = ["gavel", "exec", "--", "caf\u{e9}", ""]
            .iter()
            .map(Into::into)
            .collect();
        assert_eq!(got, want);
        assert!(c_args(0, argv.as_ptr()).is_empty());
    }

    #[test]
    fn usage_errors_are_one_line() {
        let args = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
        for (argv, want) in [
            (
                &[
                    "gavel",
                    "check-policy",
                    "--policy-dir",
                    "d",
                    "--action",
                    "x",
                    "--ring",
                    "4",
                ][..],
                "invalid value '4' for '--ring <N>'",
            ),
            (
                &["gavel", "check-policy", "--policy-dir", "d"][..],
                "the following required arguments were not provided: --action <A>; usage: gavel check-policy",
            ),
            (
                &["gavel", "exec", "--policy-dir", "d", "ls"][..],
                "unexpected argument 'ls' found; usage: gavel exec",
            ),
            (&["gavel", "bogus"][..], "(see `gavel --help`)"),
        ] {
            let e = Cli::try_parse_from(args(argv)).unwrap_err();
            let line = usage_error_line(&e.render().to_string(), &args(argv));
            assert!(!line.contains('\n'), "{line}");
            assert!(line.contains(want), "{argv:?}: {line}");
        }
    }

    #[test]
    fn the_subcommand_is_found_after_the_global_option() {
        let args = |v: &[&str]| -> Vec<std::ffi::OsString> { v.iter().map(Into::into).collect() };
        let name = |v: &[&str]| subcommand(&args(v)).map(|s| s.to_string_lossy().into_owned());
        assert_eq!(
            name(&["gavel", "exec", "--", "ls"]).as_deref(),
            Some("exec")
        );
        assert_eq!(
            name(&["gavel", "--state-dir", "exec", "verify"]).as_deref(),
            Some("verify")
        );
        assert_eq!(
            name(&["gavel", "--state-dir=/s", "exec"]).as_deref(),
            Some("exec")
        );
        assert_eq!(name(&["gavel", "--help"]), None);
    }
}

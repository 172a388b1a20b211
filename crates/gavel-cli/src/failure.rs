//! How a command fails: one line on stderr and a documented exit status.

use std::fmt::Display;

/// Exit status for bad input and errors of commands other than `exec` and `verify`.
pub const EXIT_BAD_INPUT: i32 = 2;
/// `gavel exec`: the policy denied the command; nothing ran.
pub const EXIT_EXEC_DENIED: i32 = 126;
/// `gavel exec`: gavel itself failed (could not decide, confine or sign); nothing ran
/// unless the message says otherwise.
pub const EXIT_EXEC_GAVEL_ERROR: i32 = 125;

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    /// Process exit status.
    pub code: i32,
    /// One line: what, where, how to fix.
    pub message: String,
}

impl Failure {
    /// A failure with exit status `code`.
    pub fn new(code: i32, message: impl Display) -> Self {
        Self {
            code,
            message: message.to_string(),
        }
    }

    /// Bad input (exit 2).
    pub fn bad_input(message: impl Display) -> Self {
        Self::new(EXIT_BAD_INPUT, message)
    }
}

/// Any library error is bad input unless a command says otherwise.
impl<E: std::error::Error> From<E> for Failure {
    fn from(e: E) -> Self {
        Self::bad_input(e)
    }
}

/// A command's outcome: the exit status, or a failure.
pub type CmdResult = Result<i32, Failure>;

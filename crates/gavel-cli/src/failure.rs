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

/// `text` as one line of a log: control characters (a newline in an agent's command,
/// an escape sequence in a file name) are written as escapes, so that what an agent
/// asked for can neither split a message into lines that look like gavel's own nor
/// drive the terminal.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A command's outcome: the exit status, or a failure.
pub type CmdResult = Result<i32, Failure>;

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(one_line("plain text, ünïcode"), "plain text, ünïcode");
        assert_eq!(
            one_line("rm -rf /\ngavel: ALLOW everything\r\u{1b}[2J\t."),
            "rm -rf /\\ngavel: ALLOW everything\\r\\u{1b}[2J\\t."
        );
    }
}

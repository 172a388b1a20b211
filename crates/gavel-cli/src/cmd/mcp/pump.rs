//! The two pumps: client → server (where every `tools/call` is decided) and
//! server → client (where `tools/list` results may be filtered and call results
//! receipted). Everything the client receives goes through one mutex, so a
//! synthesized answer never interleaves with a server line.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::process::ChildStdin;
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use serde_json::value::RawValue;

use super::frame::{Read, read_line, write_line};
use super::gate::{AllowedCall, CallOutcome, Gate};
use super::jsonrpc::{
    self, Element, INVALID_REQUEST, Line, Members, PARSE_ERROR, error_response, id_key,
    is_valid_id, parse_element, parse_line, tool_error_result,
};

/// What the pumps tell the main thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The client closed the proxy's stdin; the server's stdin was closed.
    ClientEof,
    /// Writing to the client failed: it is gone.
    ClientGone,
    /// The server closed its stdout.
    ServerEof,
}

/// A response the server owes, that the proxy wants to see.
#[derive(Debug)]
enum Track {
    /// A `tools/list` request (with `--hide-denied`).
    List,
    /// An allowed `tools/call` (with `--execution-receipts`).
    Call(AllowedCall),
}

/// Options of the pumps.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Filter `tools/list` results.
    pub hide_denied: bool,
    /// Receipt call results.
    pub execution_receipts: bool,
    /// Largest line accepted, in bytes.
    pub max_line: usize,
}

/// What both pumps and the main thread share.
#[derive(Debug)]
pub struct Shared {
    gate: Gate,
    opts: Options,
    client: Mutex<ClientOut>,
    server_in: Mutex<Option<BufWriter<ChildStdin>>>,
    pending: Mutex<HashMap<String, Track>>,
    /// Held while a client message is being handled (decided, receipted, forwarded),
    /// so the process does not exit in the middle of it.
    pub busy: Mutex<()>,
    events: Mutex<Sender<Event>>,
}

#[derive(Debug)]
struct ClientOut {
    out: io::Stdout,
    gone: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One line on stderr, written at once so it does not interleave with the server's.
pub fn note(msg: &str) {
    let line = format!("gavel: mcp-proxy: {msg}\n");
    let _ = io::stderr().lock().write_all(line.as_bytes());
}

/// What to do with one client message.
enum Step {
    Forward,
    Reply(Vec<u8>),
    Drop,
}

impl Shared {
    /// Shared state over `gate`, writing to the server through `server_in`.
    pub fn new(gate: Gate, opts: Options, server_in: ChildStdin, events: Sender<Event>) -> Self {
        Self {
            gate,
            opts,
            client: Mutex::new(ClientOut {
                out: io::stdout(),
                gone: false,
            }),
            server_in: Mutex::new(Some(BufWriter::with_capacity(64 * 1024, server_in))),
            pending: Mutex::new(HashMap::new()),
            busy: Mutex::new(()),
            events: Mutex::new(events),
        }
    }

    fn event(&self, e: Event) {
        let _ = lock(&self.events).send(e);
    }

    /// Writes one line to the client; a failed write marks the client gone.
    fn to_client(&self, line: &[u8], terminated: bool) {
        let mut c = lock(&self.client);
        if c.gone {
            return;
        }
        let ClientOut { out, gone } = &mut *c;
        if write_line(&mut out.lock(), line, terminated).is_err() {
            *gone = true;
            drop(c);
            self.event(Event::ClientGone);
        }
    }

    /// Flushes what the client was sent.
    pub fn flush_client(&self) {
        let _ = lock(&self.client).out.flush();
    }

    /// Closes the server's stdin (end of input for the server).
    pub fn close_server_stdin(&self) {
        if let Some(mut w) = lock(&self.server_in).take() {
            let _ = w.flush();
        }
    }

    /// Like [`Shared::close_server_stdin`], but gives up if a write is in progress.
    pub fn try_close_server_stdin(&self) {
        if let Ok(mut g) = self.server_in.try_lock()
            && let Some(mut w) = g.take()
        {
            let _ = w.flush();
        }
    }

    fn to_server(&self, line: &[u8], terminated: bool) {
        let mut s = lock(&self.server_in);
        let Some(w) = s.as_mut() else {
            note("the server's input is closed; a client message was not delivered");
            return;
        };
        if let Err(e) = write_line(w, line, terminated) {
            note(&format!(
                "cannot write to the server ({e}); its input is closed"
            ));
            *s = None;
        }
    }

    fn track(&self, id: &RawValue, t: Track) {
        if let Some(k) = id_key(id) {
            lock(&self.pending).insert(k, t);
        }
    }

    /// Decides a `tools/call` (or refuses it) and says what to do with it.
    fn handle_call(&self, m: &Members<'_>) -> Step {
        let Some(id) = m.get("id") else {
            note(
                "dropped a tools/call without an id (a notification cannot be decided and answered)",
            );
            return Step::Drop;
        };
        if !is_valid_id(id) {
            note("refused a tools/call whose id is neither a string nor a number");
            return Step::Reply(error_response(
                None,
                INVALID_REQUEST,
                "gavel refused the call: a tools/call id must be a string or a number",
            ));
        }
        let (name, outcome) = self.gate.decide_call(m.get("params"));
        let name = name.as_deref().unwrap_or("?");
        match outcome {
            CallOutcome::Forward(mut call) => {
                if self.opts.execution_receipts {
                    call.started = Instant::now();
                    self.track(id, Track::Call(call));
                }
                Step::Forward
            }
            CallOutcome::Deny(text) => {
                note(&text);
                Step::Reply(tool_error_result(id, &text))
            }
            CallOutcome::Refuse { code, message } => {
                note(&format!("tools/call {name:?}: {message}"));
                Step::Reply(error_response(Some(id), code, &message))
            }
        }
    }

    fn handle_message(&self, m: &Members<'_>) -> Step {
        match m.method().as_deref() {
            Some("tools/call") => self.handle_call(m),
            Some("tools/list") if self.opts.hide_denied => {
                if let Some(id) = m.get("id") {
                    self.track(id, Track::List);
                }
                Step::Forward
            }
            _ => Step::Forward,
        }
    }

    /// Handles one line from the client.
    fn client_line(&self, line: &[u8], terminated: bool) {
        let _busy = lock(&self.busy);
        match parse_line(line) {
            Line::Blank => {}
            Line::NotJson(e) => {
                note(&format!(
                    "dropped a client line that is not JSON ({e}); answered with a parse error"
                ));
                self.to_client(
                    &error_response(
                        None,
                        PARSE_ERROR,
                        "Parse error: gavel mcp-proxy did not forward a line that is not JSON",
                    ),
                    true,
                );
            }
            Line::Ambiguous(e) => {
                note(&format!("dropped an ambiguous client message ({e})"));
                self.to_client(
                    &error_response(
                        None,
                        INVALID_REQUEST,
                        "Invalid Request: gavel mcp-proxy did not forward a message with a duplicated member name",
                    ),
                    true,
                );
            }
            Line::Scalar => self.to_server(line, terminated),
            Line::Object(m) => match self.handle_message(&m) {
                Step::Forward => self.to_server(line, terminated),
                Step::Reply(r) => self.to_client(&r, true),
                Step::Drop => {}
            },
            Line::Batch(elements) => {
                let mut kept: Vec<&[u8]> = Vec::with_capacity(elements.len());
                let mut replies: Vec<Vec<u8>> = Vec::new();
                let mut changed = false;
                for raw in &elements {
                    match parse_element(raw) {
                        Element::Object(m) => match self.handle_message(&m) {
                            Step::Forward => kept.push(raw.get().as_bytes()),
                            Step::Reply(r) => {
                                replies.push(r);
                                changed = true;
                            }
                            Step::Drop => changed = true,
                        },
                        Element::Ambiguous(e) => {
                            note(&format!("dropped an ambiguous message of a batch ({e})"));
                            replies.push(error_response(
                                None,
                                INVALID_REQUEST,
                                "Invalid Request: gavel mcp-proxy did not forward a message with a duplicated member name",
                            ));
                            changed = true;
                        }
                        Element::Nested => {
                            note("dropped a batch nested in a batch (JSON-RPC has none)");
                            replies.push(error_response(
                                None,
                                INVALID_REQUEST,
                                "Invalid Request: gavel mcp-proxy did not forward a batch nested in a batch",
                            ));
                            changed = true;
                        }
                        Element::Other => kept.push(raw.get().as_bytes()),
                    }
                }
                if !changed {
                    self.to_server(line, terminated);
                    return;
                }
                if !kept.is_empty() {
                    self.to_server(&jsonrpc::batch(&kept), terminated);
                }
                if !replies.is_empty() {
                    let refs: Vec<&[u8]> = replies.iter().map(Vec::as_slice).collect();
                    self.to_client(&jsonrpc::batch(&refs), true);
                }
            }
        }
    }

    /// The client → server pump; returns at the end of the client's input.
    pub fn client_to_server(&self, input: impl io::Read) {
        let mut r = BufReader::with_capacity(64 * 1024, input);
        let mut buf = Vec::new();
        loop {
            match read_line(&mut r, &mut buf, self.opts.max_line) {
                Ok(Read::Line { terminated }) => {
                    self.client_line(&buf, terminated);
                    // the line has gone on: the file of the next receipt is made while
                    // the server (or the client) answers
                    self.gate.prepare_receipt();
                }
                Ok(Read::TooLong { len }) => {
                    note(&format!(
                        "dropped a client message of {len} bytes (over --max-message-bytes {}); answered with an error",
                        self.opts.max_line
                    ));
                    self.to_client(
                        &error_response(
                            None,
                            INVALID_REQUEST,
                            "Invalid Request: message too large for gavel mcp-proxy; it was not forwarded",
                        ),
                        true,
                    );
                }
                Ok(Read::Eof) => break,
                Err(e) => {
                    note(&format!("cannot read from the client ({e})"));
                    break;
                }
            }
        }
        self.close_server_stdin();
        self.event(Event::ClientEof);
    }

    /// The server's answer to a tracked request: the line to send (when changed) and
    /// the call whose result it is.
    fn answer(&self, m: &Members<'_>, text: &str) -> (Option<Vec<u8>>, Option<AllowedCall>) {
        if !m.is_response() {
            return (None, None);
        }
        let Some(key) = m.get("id").and_then(id_key) else {
            return (None, None);
        };
        let Some(t) = lock(&self.pending).remove(&key) else {
            return (None, None);
        };
        match t {
            Track::List => (self.gate.filter_tools_list(text), None),
            Track::Call(c) => (None, Some(c)),
        }
    }

    fn server_line(&self, line: &[u8], terminated: bool) {
        if lock(&self.pending).is_empty() {
            self.to_client(line, terminated);
            return;
        }
        let mut results: Vec<(AllowedCall, &str)> = Vec::new();
        let parsed = parse_line(line);
        let text = std::str::from_utf8(line).unwrap_or("");
        match &parsed {
            Line::Object(m) => {
                let (changed, call) = self.answer(m, text);
                if let Some(c) = call {
                    results.push((c, text));
                }
                match changed {
                    Some(new) => self.to_client(&new, terminated),
                    None => self.to_client(line, terminated),
                }
            }
            Line::Batch(elements) => {
                let mut out: Vec<std::borrow::Cow<'_, [u8]>> = Vec::new();
                let mut changed = false;
                for raw in elements {
                    let mut el = std::borrow::Cow::Borrowed(raw.get().as_bytes());
                    if let Element::Object(m) = parse_element(raw) {
                        let (new, call) = self.answer(&m, raw.get());
                        if let Some(c) = call {
                            results.push((c, raw.get()));
                        }
                        if let Some(new) = new {
                            el = std::borrow::Cow::Owned(new);
                            changed = true;
                        }
                    }
                    out.push(el);
                }
                if changed {
                    let refs: Vec<&[u8]> = out.iter().map(|c| c.as_ref()).collect();
                    self.to_client(&jsonrpc::batch(&refs), terminated);
                } else {
                    self.to_client(line, terminated);
                }
            }
            _ => self.to_client(line, terminated),
        }
        let recorded = !results.is_empty();
        for (call, response) in results {
            if let Err(e) = self.gate.record_result(&call, response) {
                note(&format!(
                    "cannot write the execution receipt of tools/call {:?}: {e}",
                    call.tool
                ));
            }
        }
        if recorded {
            self.gate.prepare_receipt();
        }
    }

    /// The server → client pump; returns when the server closes its stdout.
    pub fn server_to_client(&self, output: impl io::Read) {
        let mut r = BufReader::with_capacity(64 * 1024, output);
        let mut buf = Vec::new();
        loop {
            match read_line(&mut r, &mut buf, self.opts.max_line) {
                Ok(Read::Line { terminated }) => self.server_line(&buf, terminated),
                Ok(Read::TooLong { len }) => note(&format!(
                    "dropped a server message of {len} bytes (over --max-message-bytes {})",
                    self.opts.max_line
                )),
                Ok(Read::Eof) => break,
                Err(e) => {
                    note(&format!("cannot read from the server ({e})"));
                    break;
                }
            }
        }
        self.flush_client();
        self.event(Event::ServerEof);
    }
}

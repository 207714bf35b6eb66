//! Where a step's output goes: the attempt's log file and a bounded tail of each stream.
//!
//! The log file is opened on the first byte (a silent step creates no file), receives at
//! most `log_limit` bytes in arrival order and then a one-line note saying how much was
//! dropped. Tails keep the last bytes of one stream in a ring buffer, so memory stays
//! bounded whatever the step prints. This file knows nothing about processes: the
//! supervisor in `process` feeds it chunks and never waits on it for longer than a write.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;

/// The last `limit` bytes of one stream.
pub(super) struct Tail {
    bytes: VecDeque<u8>,
    limit: usize,
    /// Bytes were pushed out of the front, so the first char may be cut.
    truncated: bool,
}

impl Tail {
    pub(super) fn new(limit: usize) -> Self {
        // Grows on demand: the limit bounds memory, it is not preallocated.
        Self {
            bytes: VecDeque::new(),
            limit,
            truncated: false,
        }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) {
        if chunk.len() >= self.limit {
            self.truncated |= chunk.len() > self.limit || !self.bytes.is_empty();
            self.bytes.clear();
            self.bytes.extend(&chunk[chunk.len() - self.limit..]);
            return;
        }
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.limit);
        if overflow > 0 {
            self.bytes.drain(..overflow);
            self.truncated = true;
        }
        self.bytes.extend(chunk);
    }

    /// Lossily decodes the tail, skipping the rest of a char whose start was cut off. A NUL
    /// byte becomes U+FFFD as invalid UTF-8 does: the tail is text for people (and every
    /// database unyo writes to stores text without NULs); the log file keeps the bytes.
    pub(super) fn into_string(self) -> String {
        let bytes = Vec::from(self.bytes);
        let skip = if self.truncated {
            // A UTF-8 char has at most three continuation bytes (0b10xx_xxxx).
            bytes
                .iter()
                .take(3)
                .take_while(|&&b| b & 0xC0 == 0x80)
                .count()
        } else {
            0
        };
        let text = String::from_utf8_lossy(bytes.get(skip..).unwrap_or_default());
        if text.contains('\0') {
            text.replace('\0', "\u{FFFD}")
        } else {
            text.into_owned()
        }
    }
}

/// What ended up in the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LogStats {
    pub(super) written: u64,
    pub(super) dropped: u64,
}

/// The attempt's log file: lazily opened, capped, with a note about dropped bytes.
pub(super) struct LogSink {
    path: PathBuf,
    limit: u64,
    file: Option<File>,
    /// Opening or writing failed once; later output is counted as dropped.
    failed: bool,
    written: u64,
    dropped: u64,
    last_byte: Option<u8>,
}

impl LogSink {
    pub(super) fn new(path: PathBuf, limit: u64) -> Self {
        Self {
            path,
            limit,
            file: None,
            failed: false,
            written: 0,
            dropped: 0,
            last_byte: None,
        }
    }

    /// Writes what fits under the limit and counts the rest as dropped.
    ///
    /// Never fails: a log that cannot be written must not stop the step or the draining
    /// of its pipes, so the problem is logged once and the bytes are counted as dropped.
    pub(super) async fn write(&mut self, chunk: &[u8]) {
        let room = self.limit.saturating_sub(self.written);
        let keep = usize::try_from(room).map_or(chunk.len(), |room| room.min(chunk.len()));
        let (kept, rest) = chunk.split_at(keep);
        self.dropped += len64(rest);
        if kept.is_empty() {
            return;
        }
        match self.append(kept).await {
            Ok(()) => {
                self.written += len64(kept);
                self.last_byte = kept.last().copied();
            }
            Err(error) => {
                self.fail(&error);
                self.dropped += len64(kept);
            }
        }
    }

    /// Appends the note about dropped bytes (not counted in the limit) and flushes.
    pub(super) async fn finish(mut self) -> LogStats {
        if self.dropped > 0 && !self.failed {
            let newline = if self.last_byte.is_some_and(|b| b != b'\n') {
                "\n"
            } else {
                ""
            };
            let note = format!("{newline}{}", limit_note(self.limit, self.dropped));
            if let Err(error) = self.append(note.as_bytes()).await {
                self.fail(&error);
            }
        }
        if let Some(file) = self.file.as_mut() {
            // tokio writes in the background; flushing makes the file complete on return.
            if let Err(error) = file.flush().await {
                self.fail(&error);
            }
        }
        LogStats {
            written: self.written,
            dropped: self.dropped,
        }
    }

    async fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("log already failed"));
        }
        let file = match &mut self.file {
            Some(file) => file,
            slot @ None => {
                let mut options = OpenOptions::new();
                options.create(true).write(true).truncate(true);
                let file = match options.open(&self.path).await {
                    // Its directory went away since it was made: make it again.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if let Some(dir) = self.path.parent() {
                            tokio::fs::create_dir_all(dir).await?;
                        }
                        options.open(&self.path).await?
                    }
                    opened => opened?,
                };
                slot.insert(file)
            }
        };
        file.write_all(bytes).await
    }

    fn fail(&mut self, error: &io::Error) {
        if !self.failed {
            tracing::warn!(path = %self.path.display(), %error, "cannot write step log; dropping further output");
        }
        self.failed = true;
    }
}

/// Makes the directory of `log_path` unless this process made or saw it before (a run's
/// attempts all log in their job's directory; one made once is not looked for again, and
/// one removed since is made again when its log is opened).
pub(super) async fn log_dir_ready(log_path: &Path) -> io::Result<()> {
    static SEEN: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
    let Some(dir) = log_path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let seen = |dir: &Path| {
        SEEN.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|s| s.contains(dir))
    };
    if seen(dir) {
        return Ok(());
    }
    if !dir.is_dir() {
        tokio::fs::create_dir_all(dir).await?;
    }
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(dir.to_path_buf());
    Ok(())
}

/// The line appended to a log that reached its limit.
pub(super) fn limit_note(limit: u64, dropped: u64) -> String {
    format!("[unyo] output limit of {limit} bytes reached; {dropped} bytes dropped\n")
}

fn len64(bytes: &[u8]) -> u64 {
    // usize is at most 64 bits on every target tokio supports.
    u64::try_from(bytes.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::{Command, Exit, Program, execute};
    use super::*;

    fn command(argv: &[&str], dir: &Path) -> Command {
        Command {
            program: Program::Argv(argv.iter().map(|s| s.to_string()).collect()),
            base: std::sync::Arc::default(),
            env: Vec::new(),
            workdir: dir.to_path_buf(),
            timeout: Some(Duration::from_secs(60)),
            kill_grace: Duration::from_millis(300),
            log_path: dir.join("logs").join("run-1").join("step.log"),
            log_limit: 1 << 20,
            tail_limit: 4096,
            progress: Default::default(),
            target: super::super::Target::Local,
            user: None,
        }
    }

    async fn run(cmd: &Command) -> super::super::Outcome {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        execute(cmd, rx, |_| {}).await.expect("runs")
    }

    /// A log directory made once is not looked for again; removed since, it is made
    /// again when the next log is opened, and that output is kept.
    #[tokio::test]
    async fn a_log_directory_removed_between_attempts_is_made_again() {
        let dir = tempfile::tempdir().expect("dir");
        let cmd = command(&["echo", "first"], dir.path());
        run(&cmd).await;
        let logs = dir.path().join("logs");
        assert_eq!(
            std::fs::read_to_string(&cmd.log_path).expect("first log"),
            "first\n"
        );
        std::fs::remove_dir_all(&logs).expect("removed");
        let again = command(&["echo", "second"], dir.path());
        let out = run(&again).await;
        assert_eq!(out.log_written, 7);
        assert_eq!(
            std::fs::read_to_string(&again.log_path).expect("second log"),
            "second\n"
        );
    }

    #[test]
    fn tail_keeps_last_bytes_across_chunks() {
        let mut tail = Tail::new(5);
        tail.push(b"abc");
        tail.push(b"defg");
        assert_eq!(tail.into_string(), "cdefg");

        let mut tail = Tail::new(5);
        tail.push(b"0123456789");
        tail.push(b"ab");
        assert_eq!(tail.into_string(), "789ab");

        let mut tail = Tail::new(5);
        tail.push(b"abc");
        assert_eq!(tail.into_string(), "abc");

        let mut tail = Tail::new(0);
        tail.push(b"abc");
        assert_eq!(tail.into_string(), "");
    }

    /// A step that prints NUL bytes (a binary dump to stdout) leaves a tail PostgreSQL can
    /// store: each NUL reads as U+FFFD, as invalid UTF-8 does.
    #[test]
    fn a_nul_byte_in_a_tail_becomes_the_replacement_character() {
        let mut tail = Tail::new(16);
        tail.push(b"ab\0c\xff");
        assert_eq!(tail.into_string(), "ab\u{FFFD}c\u{FFFD}");
    }

    #[test]
    fn tail_starts_at_a_char_boundary() {
        // "é" is two bytes, "あ" three: a 4-byte tail of "éあ" cuts nothing, of "ééあ" a byte.
        for (text, limit, expected) in [
            ("aéあ", 5, "éあ"),
            ("ééあ", 4, "あ"),
            ("ああ", 4, "あ"),
            ("ああ", 5, "あ"),
            ("ああ", 6, "ああ"),
        ] {
            let mut tail = Tail::new(limit);
            for byte in text.as_bytes() {
                tail.push(std::slice::from_ref(byte));
            }
            assert_eq!(tail.into_string(), expected, "{text:?} limit {limit}");
        }
    }

    #[test]
    fn tail_decodes_invalid_bytes_lossily() {
        let mut tail = Tail::new(16);
        tail.push(b"ok \xff\xfe end");
        assert_eq!(tail.into_string(), "ok \u{fffd}\u{fffd} end");
    }

    #[tokio::test]
    async fn log_is_capped_and_notes_what_was_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = command(&["head", "-c", "1000000", "/dev/zero"], dir.path());
        cmd.log_limit = 10_000;
        let outcome = run(&cmd).await;

        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.log_written, 10_000);
        assert_eq!(outcome.log_dropped, 990_000);
        let log = std::fs::read(&cmd.log_path).expect("log exists");
        let mut expected = vec![0u8; 10_000];
        expected.push(b'\n');
        expected.extend_from_slice(limit_note(10_000, 990_000).as_bytes());
        assert_eq!(log.len(), expected.len());
        assert!(log == expected, "log content differs");
        // The tail is text: each NUL of /dev/zero reads as U+FFFD (the log keeps the bytes).
        assert_eq!(outcome.stdout_tail, "\u{FFFD}".repeat(4096));
    }

    #[tokio::test]
    async fn large_output_keeps_bounded_tails() {
        let dir = tempfile::tempdir().expect("tempdir");
        // 30_000 x "あ" (90_000 bytes) on stdout; a 4096-byte tail cuts one char in half.
        let line = format!(
            "i=0; while [ $i -lt 300 ]; do printf '{}'; i=$((i+1)); done; printf end >&2",
            "あ".repeat(100)
        );
        let cmd = command(&["sh", "-c", &line], dir.path());
        let outcome = run(&cmd).await;

        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.stdout_tail, "あ".repeat(4095 / 3));
        assert_eq!(outcome.stderr_tail, "end");
        assert_eq!(outcome.log_written, 30_000 * 3 + 3);
        assert_eq!(outcome.log_dropped, 0);
    }

    #[tokio::test]
    async fn silent_process_creates_no_log_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = command(&["true"], dir.path());
        let outcome = run(&cmd).await;

        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.log_written, 0);
        assert!(!cmd.log_path.exists());
    }

    #[tokio::test]
    async fn both_streams_go_to_one_log_in_arrival_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = command(
            &[
                "sh",
                "-c",
                "echo out1; sleep 0.2; echo err1 >&2; sleep 0.2; echo out2",
            ],
            dir.path(),
        );
        let outcome = run(&cmd).await;

        assert_eq!(outcome.exit, Exit::Code(0));
        assert_eq!(outcome.stdout_tail, "out1\nout2\n");
        assert_eq!(outcome.stderr_tail, "err1\n");
        let log = std::fs::read_to_string(&cmd.log_path).expect("log exists");
        assert_eq!(log, "out1\nerr1\nout2\n");
        assert_eq!(outcome.log_written, 15);
    }

    #[tokio::test]
    async fn zero_limit_writes_only_the_note() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = command(&["echo", "hello"], dir.path());
        cmd.log_limit = 0;
        let outcome = run(&cmd).await;

        assert_eq!(outcome.log_written, 0);
        assert_eq!(outcome.log_dropped, 6);
        let log = std::fs::read_to_string(&cmd.log_path).expect("log exists");
        assert_eq!(log, limit_note(0, 6));
    }
}

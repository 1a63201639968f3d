//! `xray validate [FILE|-]`: checks segment documents and says what is wrong with each invalid one.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::ingest::Item;
use xray_sdk_types::validate::MAX_DOCUMENT_BYTES;

use crate::ingest::process::{process_datagram, process_document};

/// The options of `xray validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The file to check; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Also print a line for each valid document.
    #[arg(long)]
    pub all: bool,
}

/// The most input read as one JSON value (a pretty-printed document, or an array); more is an error.
pub const MAX_INPUT: u64 = 1024 * 1024 * 1024;

/// The verdict on one document of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Where it is: `line N`, or `document N` for elements of a JSON array, or `document` for a whole file.
    pub location: String,
    /// `Ok(kind)` (`segment` or `subsegment`), or `Err((code, message))`.
    pub result: Result<&'static str, (&'static str, String)>,
}

fn judge(item: Item) -> Result<&'static str, (&'static str, String)> {
    match item {
        Item::Valid(record) if record.subsegment => Ok("subsegment"),
        Item::Valid(_) => Ok("segment"),
        Item::Invalid(rejected) => Err((rejected.code, rejected.message)),
    }
}

fn looks_like_header(line: &str) -> bool {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.contains_key("format") && !o.contains_key("id"))
        })
        .unwrap_or(false)
}

/// Checks every document of `input`, which is one of:
/// - one JSON document per line (blank lines skipped);
/// - datagrams: a header line such as `{"format":"json","version":1}` followed by its document line;
/// - one JSON document spread over several lines (a pretty-printed file);
/// - a JSON array of documents, or of datagram strings.
pub fn check(input: &str) -> Vec<Verdict> {
    let trimmed = input.trim();
    // A whole-input JSON value that is not a single line: a pretty-printed document or an array.
    if (trimmed.lines().count() > 1 || trimmed.starts_with('['))
        && let Ok(value) = serde_json::from_str::<Value>(trimmed)
    {
        return match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| Verdict {
                    location: format!("document {}", i + 1),
                    result: match item {
                        Value::String(datagram) => {
                            judge(process_datagram(datagram.as_bytes(), 0.0))
                        }
                        other => judge_document(other.to_string().as_bytes()),
                    },
                })
                .collect(),
            other => vec![Verdict {
                location: "document".to_owned(),
                result: judge_document(other.to_string().as_bytes()),
            }],
        };
    }
    let mut verdicts = Vec::new();
    let mut lines = input.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if line.trim().is_empty() {
            continue;
        }
        let result = if looks_like_header(line) {
            match lines.next() {
                Some((_, document)) => judge(process_datagram(
                    format!("{line}\n{document}").as_bytes(),
                    0.0,
                )),
                None => judge(process_datagram(format!("{line}\n").as_bytes(), 0.0)),
            }
        } else {
            judge_document(line.as_bytes())
        };
        verdicts.push(Verdict {
            location: format!("line {}", index + 1),
            result,
        });
    }
    verdicts
}

fn judge_document(document: &[u8]) -> Result<&'static str, (&'static str, String)> {
    process_document(document, 0.0).and_then(judge)
}

/// Runs `xray validate`: exit 0 when every document is valid, 1 when any is invalid or none is found, 2 when the
/// input cannot be read (or not all of it: an over-long line or whole-file value is an error, not a silent stop).
pub fn run(args: ValidateArgs) -> ExitCode {
    let (name, source): (String, std::io::Result<Box<dyn BufRead>>) = match &args.file {
        Some(path) if path.as_os_str() != "-" => (
            path.display().to_string(),
            std::fs::File::open(path).map(|f| Box::new(BufReader::new(f)) as Box<dyn BufRead>),
        ),
        _ => (
            "<stdin>".to_owned(),
            Ok(Box::new(BufReader::new(std::io::stdin())) as Box<dyn BufRead>),
        ),
    };
    let mut counts = (0usize, 0usize);
    let mut out = std::io::stdout().lock();
    let mut emit = |verdict: Verdict| {
        counts.0 += 1;
        let line = match &verdict.result {
            Ok(kind) if args.all => Some(format!("{name}:{}: valid {kind}", verdict.location)),
            Ok(_) => None,
            Err((code, message)) => {
                counts.1 += 1;
                Some(format!(
                    "{name}:{}: invalid [{code}] {message}",
                    verdict.location
                ))
            }
        };
        if let Some(line) = line {
            // Printed as found; a closed output ends nothing but the printing.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    };
    let result = source.and_then(|source| stream(source, &mut emit));
    drop(out);
    if let Err(e) = result {
        eprintln!("xray validate: cannot read {name}: {e}");
        return ExitCode::from(2);
    }
    let (total, invalid) = counts;
    if total == 0 {
        eprintln!("xray validate: {name}: no documents found");
        return ExitCode::FAILURE;
    }
    println!(
        "{name}: {total} documents, {} valid, {invalid} invalid",
        total - invalid
    );
    if invalid > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The longest line read in line mode: far more than a document may take ([`MAX_DOCUMENT_BYTES`] and a header).
pub const MAX_LINE: u64 = 4 * MAX_DOCUMENT_BYTES as u64;

/// Reads a line of at most [`MAX_LINE`] bytes (with its newline); `None` at the end of the input.
///
/// # Errors
/// When the input fails, or the line is longer than [`MAX_LINE`]: it was not read whole.
fn next_line(source: &mut dyn BufRead, number: usize) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let n = source.take(MAX_LINE + 1).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if n as u64 > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("line {number} is longer than {MAX_LINE} bytes: not read past it"),
        ));
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Checks the documents of `source` as [`check`] does, calling `emit` with each verdict as soon as it is found:
/// line by line, and element by element for a JSON array. Memory stays in proportion to the longest document, not
/// to the input (a pretty-printed single document is read whole, up to [`MAX_INPUT`]).
///
/// # Errors
/// When the input fails, or part of it could not be read (an over-long line; a whole-file value past
/// [`MAX_INPUT`]): what was read is reported first.
pub fn stream(mut source: impl BufRead, emit: &mut dyn FnMut(Verdict)) -> std::io::Result<()> {
    // Blank lines first; then the first byte tells an array from lines, the first line a pretty-printed document.
    let mut number = 1;
    loop {
        let buf = source.fill_buf()?;
        let Some(&byte) = buf.first() else {
            return Ok(());
        };
        if !byte.is_ascii_whitespace() {
            break;
        }
        number += usize::from(byte == b'\n');
        source.consume(1);
    }
    if source.fill_buf()?.first() == Some(&b'[') {
        let mut limited = source.take(MAX_INPUT + 1);
        let outcome = stream_array(&mut limited, emit);
        if limited.limit() == 0 {
            return Err(too_large());
        }
        return outcome;
    }
    let Some(first) = next_line(&mut source, number)? else {
        return Ok(());
    };
    let head = first.trim().to_owned();
    if !looks_like_header(&head)
        && serde_json::from_str::<Value>(&head).is_err()
        && head.starts_with('{')
    {
        // A document over several lines: read whole (what cannot be read is an error).
        let mut limited = std::io::Cursor::new(first.into_bytes())
            .chain(source)
            .take(MAX_INPUT + 1);
        let mut text = String::new();
        limited.read_to_string(&mut text)?;
        if limited.limit() == 0 {
            return Err(too_large());
        }
        check(&text).into_iter().for_each(emit);
        return Ok(());
    }
    let mut current = Some((number, first));
    while let Some((index, line)) = current.take() {
        if !line.trim().is_empty() {
            let line = line.trim_end_matches(['\n', '\r']);
            let result = if looks_like_header(line) {
                number += 1;
                match next_line(&mut source, number)? {
                    Some(document) => judge(process_datagram(
                        format!("{line}\n{}", document.trim_end_matches(['\n', '\r'])).as_bytes(),
                        0.0,
                    )),
                    None => judge(process_datagram(format!("{line}\n").as_bytes(), 0.0)),
                }
            } else {
                judge_document(line.as_bytes())
            };
            emit(Verdict {
                location: format!("line {index}"),
                result,
            });
        }
        number += 1;
        current = next_line(&mut source, number)?.map(|line| (number, line));
    }
    Ok(())
}

fn too_large() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the input is a single JSON value larger than {MAX_INPUT} bytes: not read past it"),
    )
}

/// Judges the elements of a JSON array one at a time, as they are parsed.
fn stream_array(source: impl Read, emit: &mut dyn FnMut(Verdict)) -> std::io::Result<()> {
    struct Elements<'a>(&'a mut dyn FnMut(Verdict));
    impl<'de> serde::de::Visitor<'de> for Elements<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of documents or datagrams")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(item) = seq.next_element::<Value>()? {
                i += 1;
                (self.0)(Verdict {
                    location: format!("document {i}"),
                    result: match item {
                        Value::String(datagram) => {
                            judge(process_datagram(datagram.as_bytes(), 0.0))
                        }
                        other => judge_document(other.to_string().as_bytes()),
                    },
                });
            }
            Ok(())
        }
    }
    let mut deserializer = serde_json::Deserializer::from_reader(source);
    serde::Deserializer::deserialize_seq(&mut deserializer, Elements(emit))
        .and_then(|()| deserializer.end())
        .map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the input is not a JSON array: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"trace_id":"1-5759e988-bd862e3fe1be46a994272793","id":"53995c3f42cd8ad8","name":"a","start_time":1,"end_time":2}"#;

    #[test]
    fn reads_lines_datagrams_and_arrays() {
        let input = format!("{DOC}\n\n{{\"format\":\"json\",\"version\":1}}\n{DOC}\n{{\"nope\n");
        let verdicts = check(&input);
        assert_eq!(verdicts.len(), 3);
        assert_eq!(
            verdicts[0],
            Verdict {
                location: "line 1".into(),
                result: Ok("segment")
            }
        );
        assert_eq!(
            verdicts[1],
            Verdict {
                location: "line 3".into(),
                result: Ok("segment")
            }
        );
        assert_eq!(verdicts[2].location, "line 5");
        assert_eq!(verdicts[2].result.as_ref().unwrap_err().0, "not_json");

        let pretty = "{\n  \"name\": \"a\"\n}\n";
        let verdicts = check(pretty);
        assert_eq!(verdicts.len(), 1);
        assert_eq!(verdicts[0].location, "document");
        assert_eq!(
            verdicts[0].result,
            Err((
                "missing_field",
                "$.id: required field is missing".to_owned()
            ))
        );

        let array = serde_json::to_string(&vec![format!(
            "{{\"format\":\"json\",\"version\":1}}\n{DOC}"
        )])
        .unwrap();
        assert_eq!(
            check(&array),
            vec![Verdict {
                location: "document 1".into(),
                result: Ok("segment")
            }]
        );
    }

    /// A reader that hands out `parts` one per read, and checks before each part after the first that `seen`
    /// verdicts were already emitted for the parts before.
    struct Parts {
        parts: Vec<(Vec<u8>, usize)>,
        emitted: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Read for Parts {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.parts.is_empty() {
                return Ok(0);
            }
            let (part, seen) = self.parts.remove(0);
            assert!(
                self.emitted.get() >= seen,
                "verdicts wait for the whole input"
            );
            buf[..part.len()].copy_from_slice(&part);
            Ok(part.len())
        }
    }

    #[test]
    fn verdicts_come_as_the_input_is_read() {
        for (first, second) in [
            (format!("{DOC}\n"), "{\"nope\n".to_owned()),
            (format!("[\n{DOC},\n"), "{\"name\":\"a\"}]\n".to_owned()),
            (format!("\n [{DOC},"), "{\"name\":\"a\"}]".to_owned()),
        ] {
            let emitted = std::rc::Rc::new(std::cell::Cell::new(0));
            let reader = Parts {
                parts: vec![(first.into_bytes(), 0), (second.into_bytes(), 1)],
                emitted: emitted.clone(),
            };
            let mut verdicts = Vec::new();
            stream(std::io::BufReader::with_capacity(4096, reader), &mut |v| {
                emitted.set(emitted.get() + 1);
                verdicts.push(v);
            })
            .unwrap();
            assert_eq!(verdicts.len(), 2);
            assert_eq!(verdicts[0].result, Ok("segment"));
            assert!(verdicts[1].result.is_err());
        }
    }
}

//! `xray validate [FILE|-]`: checks segment documents and says what is wrong with each invalid one.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::Value;

use crate::ingest::Item;
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

/// The most input read.
const MAX_INPUT: u64 = 1024 * 1024 * 1024;

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
/// input cannot be read.
pub fn run(args: ValidateArgs) -> ExitCode {
    let (name, bytes) = match &args.file {
        None => ("<stdin>".to_owned(), read(std::io::stdin().lock())),
        Some(path) if path.as_os_str() == "-" => {
            ("<stdin>".to_owned(), read(std::io::stdin().lock()))
        }
        Some(path) => (
            path.display().to_string(),
            std::fs::File::open(path).and_then(read),
        ),
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("xray validate: cannot read {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let input = String::from_utf8_lossy(&bytes);
    let verdicts = check(&input);
    if verdicts.is_empty() {
        eprintln!("xray validate: {name}: no documents found");
        return ExitCode::FAILURE;
    }
    let mut invalid = 0;
    for verdict in &verdicts {
        match &verdict.result {
            Ok(kind) if args.all => println!("{name}:{}: valid {kind}", verdict.location),
            Ok(_) => {}
            Err((code, message)) => {
                invalid += 1;
                println!("{name}:{}: invalid [{code}] {message}", verdict.location);
            }
        }
    }
    println!(
        "{name}: {} documents, {} valid, {invalid} invalid",
        verdicts.len(),
        verdicts.len() - invalid
    );
    if invalid > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn read(source: impl Read) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    source.take(MAX_INPUT).read_to_end(&mut bytes)?;
    Ok(bytes)
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
}

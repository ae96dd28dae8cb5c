//! Schema regexes with the semantics KAZOO gets from Erlang's `re` (PCRE).
//!
//! jesse calls `re:run(Subject, Pattern, [unicode])`: an unanchored search in
//! which `\w`, `\d`, `\s` and `\b` are ASCII-only (no UCP flag) and `$` also
//! matches just before a final newline. The `regex` crate is Unicode-aware and
//! its `$` is strict, so patterns are translated before compiling.

use regex::Regex;

const WORD: &str = "0-9A-Za-z_";
const DIGIT: &str = "0-9";
// PCRE's \s: space, \t, \n, vertical tab, form feed, \r.
const SPACE: &str = r"\t\n\x0B\x0C\r ";

/// Compile a PCRE-style pattern from a schema.
pub(crate) fn compile(pcre: &str) -> Result<Regex, regex::Error> {
    Regex::new(&translate(pcre))
}

/// Rewrite the PCRE constructs whose meaning differs in the `regex` crate.
fn translate(pcre: &str) -> String {
    let mut out = String::with_capacity(pcre.len() + 16);
    let mut chars = pcre.chars().peekable();
    // Inside `[...]`; `class_start` is true right after `[` or `[^`, where a
    // `]` is a literal rather than the end of the class.
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    out.push('\\');
                    break;
                };
                out.push_str(&translate_escape(escaped, in_class));
                class_start = false;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class such as `[:alnum:]`: ASCII in both engines.
                out.push('[');
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == ']' {
                        break;
                    }
                }
                class_start = false;
            }
            '[' => {
                // A literal `[` inside a class; `regex` would read a nested class.
                out.push_str(r"\[");
                class_start = false;
            }
            ']' if in_class && class_start => {
                out.push_str(r"\]");
                class_start = false;
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class => out.push_str(r"(?:\n?\z)"),
            _ => {
                if in_class && matches!(c, '&' | '~' | '-') && chars.peek() == Some(&c) {
                    // `&&`, `~~`, `--` are set operators in `regex`, literals in PCRE.
                    out.push('\\');
                }
                out.push(c);
                class_start = false;
            }
        }
    }
    out
}

fn translate_escape(escaped: char, in_class: bool) -> String {
    let set = |body: &str, negated: bool| {
        let caret = if negated { "^" } else { "" };
        if in_class && !negated {
            body.to_string()
        } else {
            // `regex` accepts a nested class inside a class, so this works in both places.
            format!("[{caret}{body}]")
        }
    };
    match escaped {
        'w' => set(WORD, false),
        'W' => set(WORD, true),
        'd' => set(DIGIT, false),
        'D' => set(DIGIT, true),
        's' => set(SPACE, false),
        'S' => set(SPACE, true),
        'b' if !in_class => r"(?-u:\b)".to_string(),
        'B' if !in_class => r"(?-u:\B)".to_string(),
        'Z' if !in_class => r"(?:\n?\z)".to_string(),
        other => format!("\\{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, subject: &str) -> bool {
        compile(pattern).expect(pattern).is_match(subject)
    }

    #[test]
    fn word_class_is_ascii_only() {
        assert!(matches(r"^[.\w-]+$", "abc.DEF-1_2"));
        assert!(!matches(r"^[.\w-]+$", "é"));
        assert!(!matches(r"^\w+$", "ß"));
        assert!(matches(r"^\W$", "é"));
    }

    #[test]
    fn dollar_also_matches_before_a_final_newline() {
        assert!(matches("^[0-9]+$", "123\n"));
        assert!(!matches("^[0-9]+$", "123\n\n"));
        assert!(!matches("^[0-9]+$", "123\nx"));
    }

    #[test]
    fn search_is_unanchored() {
        assert!(matches("local", "my-local-db"));
        assert!(matches("^https?://", "https://x"));
    }

    #[test]
    fn space_class_and_negation() {
        assert!(matches(r"^[^\s]*$", "no-spaces"));
        assert!(!matches(r"^[^\s]*$", "a b"));
        assert!(!matches(r"^[^\s]*$", "a\u{0B}b"));
        // Unicode spaces are not PCRE spaces without UCP.
        assert!(matches(r"^[^\s]*$", "a\u{A0}b"));
        assert!(matches(r"^\S+$", "abc"));
    }

    #[test]
    fn posix_classes_and_literal_brackets() {
        assert!(matches("^[[:alnum:]_]+$", "abc_123"));
        assert!(!matches("^[[:alnum:]_]+$", "a-b"));
        assert!(matches("^[]a]+$", "]a]"));
        assert!(matches("^[a[]+$", "[a["));
        assert!(matches(r"^[a-zA-z0-9_\-]+$", "A_z-9^"));
    }
}

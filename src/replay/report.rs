//! Human-readable rendering of replay results.
//!
//! One `PASS`/`FAIL` line per scenario; under a failure, the failed step's
//! request line, expected and actual status, one line per mismatch and an
//! excerpt of the response. The last line is `N passed, M failed`, counting
//! scenarios, which is also the plain summary form CI tooling recognises.

use std::fmt::Write as _;

use super::runner::{ScenarioReport, StepReport};

/// Cut `s` to at most `max` characters, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… ({} chars)", &s[..cut], s.chars().count()),
        None => s.to_string(),
    }
}

/// The full report: every scenario, then the summary line.
pub fn render_report(reports: &[ScenarioReport]) -> String {
    let mut out = String::new();
    for report in reports {
        out.push_str(&render_scenario(report));
    }
    out.push_str(&summary_line(reports));
    out.push('\n');
    out
}

/// `N passed, M failed`, counting scenarios.
pub fn summary_line(reports: &[ScenarioReport]) -> String {
    let passed = reports.iter().filter(|r| r.passed()).count();
    format!("{passed} passed, {} failed", reports.len() - passed)
}

/// The block for one scenario, ending with a newline.
pub fn render_scenario(report: &ScenarioReport) -> String {
    let mut out = String::new();
    let verdict = if report.passed() { "PASS" } else { "FAIL" };
    let _ = write!(out, "{verdict} {}", report.path.display());
    if !report.description.is_empty() {
        let _ = write!(out, " - {}", report.description);
    }
    if report.passed() {
        let millis: u128 = report.steps.iter().map(|s| s.elapsed.as_millis()).sum();
        let _ = writeln!(out, " ({} steps, {millis} ms)", report.steps.len());
        return out;
    }
    out.push('\n');
    if let Some(error) = &report.error {
        let _ = writeln!(out, "  error: {error}");
    }
    let failed = report.steps.iter().position(|s| !s.passed());
    if let Some(index) = failed {
        render_step(&mut out, index, report.total_steps, &report.steps[index]);
        let not_run = report.total_steps.saturating_sub(index + 1);
        if not_run > 0 {
            let _ = writeln!(out, "  ({not_run} later step(s) not run)");
        }
    }
    out
}

fn render_step(out: &mut String, index: usize, total: usize, step: &StepReport) {
    let _ = writeln!(
        out,
        "  step {}/{total} \"{}\": {}",
        index + 1,
        step.name,
        step.request_line
    );
    let expected: Vec<String> = step.expected_status.iter().map(u16::to_string).collect();
    let got = step
        .status
        .map_or_else(|| "no response".to_string(), |s| s.to_string());
    let marker = if step.status_ok() {
        ""
    } else {
        "  <- wrong status"
    };
    let _ = writeln!(
        out,
        "    status: expected {}, got {got}{marker}",
        expected.join(" or ")
    );
    if let Some(error) = &step.error {
        let _ = writeln!(out, "    error: {error}");
    }
    for mismatch in &step.mismatches {
        let _ = writeln!(out, "    {mismatch}");
    }
    if step.status.is_some() {
        let body = if step.response_excerpt.is_empty() {
            "(empty)"
        } else {
            &step.response_excerpt
        };
        let _ = writeln!(out, "    response body: {}", body.replace('\n', " "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_is_char_safe() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééééé", 2), "éé… (5 chars)");
    }
}

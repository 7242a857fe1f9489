//! Timing and reporting shared by every bench suite: concurrent workers, latency percentiles,
//! and the JSON + markdown output described in DESIGN.md.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use crate::BoxError;

/// One row of results: a (case, subject) pair.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What was measured, e.g. `append`.
    pub case: String,
    /// Who was measured, e.g. `catat` or `raw_insert`.
    pub subject: String,
    /// Operations (appends, or events read) per second of wall time.
    pub ops_per_s: f64,
    /// Median latency of one call, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency of one call, in milliseconds.
    pub p99_ms: f64,
    /// Operations counted.
    pub n: u64,
    /// Peak resident memory of the bench process so far, when the OS tells it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
    /// Optimistic-concurrency retries, where a subject has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
    /// Median lag (append to projector), in the projection lag case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_p50_ms: Option<f64>,
    /// 99th percentile lag, in the projection lag case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_p99_ms: Option<f64>,
    /// HTTP commands per second, where one operation sends several (a whole order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commands_per_s: Option<f64>,
    /// Calls that failed: counted in `n` and the latencies (each waited for its answer), not
    /// in `ops_per_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<u64>,
    /// Figures of a suite's own (`issued`, `seconds`), written beside the others.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl Row {
    /// The row of a run in which `errors` of its calls failed.
    pub fn with_errors(mut self, errors: u64) -> Self {
        if errors > 0 {
            let done = self.n.saturating_sub(errors);
            self.ops_per_s *= done as f64 / self.n.max(1) as f64;
            self.errors = Some(errors);
        }
        self
    }
}

/// Latencies and counts gathered by one measured run.
#[derive(Debug, Default)]
pub struct Sample {
    latencies: Vec<Duration>,
    ops: u64,
    wall: Duration,
}

impl Sample {
    /// A sample from already-timed calls, each doing `ops_per_call` operations.
    pub fn new(latencies: Vec<Duration>, ops: u64, wall: Duration) -> Self {
        Self {
            latencies,
            ops,
            wall,
        }
    }

    /// The sample as a result row.
    pub fn row(mut self, case: &str, subject: &str) -> Row {
        self.latencies.sort_unstable();
        let secs = self.wall.as_secs_f64();
        Row {
            case: case.to_owned(),
            subject: subject.to_owned(),
            ops_per_s: if secs > 0.0 {
                self.ops as f64 / secs
            } else {
                0.0
            },
            p50_ms: percentile_ms(&self.latencies, 50.0),
            p99_ms: percentile_ms(&self.latencies, 99.0),
            n: self.ops,
            peak_rss_mb: peak_rss_mb(),
            retries: None,
            lag_p50_ms: None,
            lag_p99_ms: None,
            commands_per_s: None,
            errors: None,
            extra: BTreeMap::new(),
        }
    }
}

/// The latency at `pct` of sorted latencies (nearest rank), in milliseconds.
pub fn percentile_ms(sorted: &[Duration], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1_000.0
}

/// Runs `workers` concurrent tasks; task `w` calls `op(w, i)` for its `i` in `0..per_worker`,
/// each call timed. One call is one operation.
pub async fn concurrent<F, Fut>(
    workers: usize,
    per_worker: usize,
    op: F,
) -> Result<Sample, BoxError>
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for worker in 0..workers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for i in 0..per_worker {
                let t = Instant::now();
                op(worker, i).await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut latencies = Vec::with_capacity(workers * per_worker);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let wall = started.elapsed();
    let ops = latencies.len() as u64;
    Ok(Sample::new(latencies, ops, wall))
}

/// Runs `op(i)` for every `i` in `0..n`, `workers` at a time, each call timed.
pub async fn drain<F, Fut>(workers: usize, n: usize, op: F) -> Result<Sample, BoxError>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let (next, op) = (next.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, BoxError>(latencies);
                }
                let t = Instant::now();
                op(i).await?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    for task in tasks {
        latencies.extend(task.await??);
    }
    let wall = started.elapsed();
    let ops = latencies.len() as u64;
    Ok(Sample::new(latencies, ops, wall))
}

/// Peak resident set size of this process (Linux `VmHWM`), in MiB.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// What the machine is, for the report.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// Operating system.
    pub os: &'static str,
    /// CPU architecture.
    pub arch: &'static str,
}

impl Machine {
    /// This machine.
    pub fn current() -> Self {
        Self {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
        }
    }
}

/// A ratio between two rows of the same run, with the target it is held against.
#[derive(Debug, Serialize)]
pub struct Ratio {
    /// What is compared, e.g. `append: catat / raw_insert`.
    pub name: String,
    /// The measured ratio of ops/s.
    pub value: f64,
    /// The target it should reach.
    pub target: f64,
}

impl Ratio {
    /// `ops_per_s` of (case, a) over (case, b), if both rows exist.
    pub fn between(rows: &[Row], case: &str, a: &str, b: &str, target: f64) -> Option<Self> {
        let mut ratio = Self::across(rows, (case, a), (case, b), target)?;
        ratio.name = format!("{case}: {a} / {b}");
        Some(ratio)
    }

    /// `ops_per_s` of row `a` over row `b`, each named by (case, subject), if both exist.
    pub fn across(rows: &[Row], a: (&str, &str), b: (&str, &str), target: f64) -> Option<Self> {
        let find = |(case, subject): (&str, &str)| {
            rows.iter().find(|r| r.case == case && r.subject == subject)
        };
        let (a_row, b_row) = (find(a)?, find(b)?);
        Some(Self {
            name: format!("{} {} / {} {}", a.0, a.1, b.0, b.1),
            value: if b_row.ops_per_s > 0.0 {
                a_row.ops_per_s / b_row.ops_per_s
            } else {
                0.0
            },
            target,
        })
    }
}

/// Ops/s for people: whole numbers, but two decimals below ten (a slow case is not 0).
fn rate(ops_per_s: f64) -> String {
    if ops_per_s < 10.0 {
        format!("{ops_per_s:.2}")
    } else {
        format!("{ops_per_s:.0}")
    }
}

/// The whole report of one run.
#[derive(Debug, Serialize)]
pub struct Report<C: Serialize> {
    /// Which suite ran.
    pub suite: &'static str,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// Where it ran.
    pub machine: Machine,
    /// The settings of the run.
    pub config: C,
    /// One row per (case, subject).
    pub results: Vec<Row>,
    /// Same-run ratios and their targets.
    pub ratios: Vec<Ratio>,
}

impl<C: Serialize> Report<C> {
    /// Writes `out` (JSON) and the same path with `.md` (a table for people).
    pub fn write(&self, out: &Path) -> Result<(), BoxError> {
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out, serde_json::to_string_pretty(self)?)?;
        std::fs::write(out.with_extension("md"), self.markdown())?;
        Ok(())
    }

    fn markdown(&self) -> String {
        let mut md = format!(
            "# catat bench {}\n\nStarted {} on {} cores ({}).\n\n\
             | case | subject | ops/s | p50 ms | p99 ms | n | peak RSS MB |\n\
             |---|---|---:|---:|---:|---:|---:|\n",
            self.suite, self.started_at, self.machine.cores, self.machine.os
        );
        for r in &self.results {
            md.push_str(&format!(
                "| {} | {} | {} | {:.2} | {:.2} | {} | {} |\n",
                r.case,
                r.subject,
                rate(r.ops_per_s),
                r.p50_ms,
                r.p99_ms,
                r.n,
                r.peak_rss_mb.map_or("–".to_owned(), |m| format!("{m:.0}"))
            ));
        }
        for r in &self.results {
            if let (Some(p50), Some(p99)) = (r.lag_p50_ms, r.lag_p99_ms) {
                md.push_str(&format!(
                    "\n{} {}: lag p50 {p50:.2} ms, p99 {p99:.2} ms over {} events\n",
                    r.case, r.subject, r.n
                ));
            }
        }
        for r in &self.results {
            if let Some(commands) = r.commands_per_s {
                md.push_str(&format!(
                    "\n{} {}: {commands:.0} HTTP commands/s\n",
                    r.case, r.subject
                ));
            }
        }
        for r in &self.results {
            if let Some(errors) = r.errors {
                md.push_str(&format!(
                    "\n{} {}: {errors} of {} calls failed\n",
                    r.case, r.subject, r.n
                ));
            }
        }
        for r in self.results.iter().filter(|r| !r.extra.is_empty()) {
            let figures: Vec<String> = r.extra.iter().map(|(k, v)| format!("{k} {v}")).collect();
            md.push_str(&format!(
                "\n{} {}: {}\n",
                r.case,
                r.subject,
                figures.join(", ")
            ));
        }
        md.push_str("\n| ratio (same run) | value | target |\n|---|---:|---:|\n");
        for ratio in &self.ratios {
            md.push_str(&format!(
                "| {} | {:.2}× | ≥ {:.1}× |\n",
                ratio.name, ratio.value, ratio.target
            ));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&sorted, 50.0), 50.0);
        assert_eq!(percentile_ms(&sorted, 99.0), 99.0);
        assert_eq!(percentile_ms(&sorted[..1], 99.0), 1.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }

    #[test]
    fn failed_calls_stay_in_n_and_leave_the_rate() {
        let sample = Sample::new(
            vec![Duration::from_millis(5); 64],
            64,
            Duration::from_secs(4),
        );
        let row = sample.row("list", "embedded").with_errors(48);
        assert_eq!((row.n, row.errors), (64, Some(48)));
        assert!((row.ops_per_s - 4.0).abs() < 1e-9, "{}", row.ops_per_s);
        let clean = Sample::new(Vec::new(), 8, Duration::from_secs(1)).row("list", "raw");
        assert_eq!(clean.with_errors(0).errors, None);
    }

    #[test]
    fn a_slow_rate_keeps_two_decimals_in_the_table() {
        assert_eq!(rate(1234.4), "1234");
        assert_eq!(rate(0.31), "0.31");
    }

    #[test]
    fn ratios_compare_rows_of_the_same_case() {
        let row = |case: &str, subject: &str, ops: f64| Row {
            case: case.into(),
            subject: subject.into(),
            ops_per_s: ops,
            p50_ms: 0.0,
            p99_ms: 0.0,
            n: 0,
            peak_rss_mb: None,
            retries: None,
            lag_p50_ms: None,
            lag_p99_ms: None,
            commands_per_s: None,
            errors: None,
            extra: BTreeMap::new(),
        };
        let rows = vec![
            row("append", "catat", 800.0),
            row("append", "raw_insert", 1000.0),
            row("read_all", "catat", 5.0),
        ];
        let ratio = Ratio::between(&rows, "append", "catat", "raw_insert", 0.8).expect("both rows");
        assert!((ratio.value - 0.8).abs() < 1e-9);
        assert!(Ratio::between(&rows, "read_all", "catat", "raw_select", 0.5).is_none());
    }
}

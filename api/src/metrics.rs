//! Prometheus metrics: requests, command latency, conflicts, projector position and lag.

use std::sync::Mutex;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    stream_type: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectorLabels {
    projector: String,
}

/// The process's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RequestLabels, Histogram>,
    command_seconds: Family<CommandLabels, Histogram>,
    conflicts: Counter,
    projector_position: Family<ProjectorLabels, Gauge>,
    projector_lag: Family<ProjectorLabels, Gauge>,
    projector_failed: Family<ProjectorLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~16 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("catat");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Family::<RequestLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let command_seconds = Family::<CommandLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let conflicts = Counter::default();
        let projector_position = Family::<ProjectorLabels, Gauge>::default();
        let projector_lag = Family::<ProjectorLabels, Gauge>::default();
        let projector_failed = Family::<ProjectorLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register(
            "http_request_seconds",
            "HTTP request latency",
            request_seconds.clone(),
        );
        registry.register(
            "command_seconds",
            "Latency of a command from send to reply, as the API saw it",
            command_seconds.clone(),
        );
        registry.register(
            "command_conflicts",
            "Version conflicts met by commands run in this process (each retried)",
            conflicts.clone(),
        );
        registry.register(
            "projector_position",
            "Global position of each projector's checkpoint",
            projector_position.clone(),
        );
        registry.register(
            "projector_lag_events",
            "Events between the head of the log and each projector's checkpoint (upper bound: \
             events the projector does not read count too)",
            projector_lag.clone(),
        );
        registry.register(
            "projector_failed",
            "1 while a projector is stopped on an event it could not apply",
            projector_failed.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            request_seconds,
            command_seconds,
            conflicts,
            projector_position,
            projector_lag,
            projector_failed,
        }
    }
}

impl Metrics {
    /// Counts a version conflict (the command loop calls it).
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    /// Records how long a command took to answer.
    pub fn command_latency(&self, stream_type: &str, took: Duration) {
        self.command_seconds
            .get_or_create(&CommandLabels {
                stream_type: stream_type.to_owned(),
            })
            .observe(took.as_secs_f64());
    }

    /// Sets a projector's position and lag.
    pub fn projector(&self, name: &str, position: i64, head: i64, failed: bool) {
        let labels = ProjectorLabels {
            projector: name.to_owned(),
        };
        self.projector_position.get_or_create(&labels).set(position);
        self.projector_lag
            .get_or_create(&labels)
            .set((head - position).max(0));
        self.projector_failed
            .get_or_create(&labels)
            .set(i64::from(failed));
    }

    /// The OpenMetrics text of everything.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = match self.registry.lock() {
            Ok(r) => r,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Err(err) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!(error = %err, "metrics did not encode");
        }
        out
    }
}

/// Counts and times every request by its route pattern (never the raw path: ids would explode
/// the label set).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    response
}

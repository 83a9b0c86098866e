//! Logs in Cloud Logging's structured format, and the request id and trace id that tie them together.
//!
//! Cloud Run forwards each stdout line that is a JSON object to Cloud Logging, which reads
//! `severity`, `message` and `logging.googleapis.com/trace` specially. [`CloudLoggingLayer`] writes
//! exactly that, adding every field of the event and of the spans it sits in, so the request span
//! puts `request_id` (and the trace) on every line a request logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

tokio::task_local! {
    /// The id of the request the current task serves, for problem bodies and log lines.
    static REQUEST_ID: String;
}

/// Runs `fut` as part of the request `id`, so errors rendered inside it carry that id.
pub async fn with_request_id<F: std::future::Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The id of the request this task is serving, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the JSON logger on stdout for the process. `filter` is a `tracing` directive such as
/// `info` or `info,sqlx=warn`; a malformed one falls back to `info` with a warning.
pub fn init(filter: &str, project_id: &str) {
    let (filter, bad_filter) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let layer = CloudLoggingLayer::new(project_id, Stdout);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    if let Some(why) = bad_filter {
        tracing::warn!(error = %why, "LOG_LEVEL is not a valid filter; logging at info");
    }
}

/// Extracts the trace id from `X-Cloud-Trace-Context` (`TRACE/SPAN;o=1`) or W3C `traceparent`
/// (`00-TRACE-SPAN-FLAGS`).
pub fn trace_id(cloud_trace_context: Option<&str>, traceparent: Option<&str>) -> Option<String> {
    let valid = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if let Some(id) = cloud_trace_context.and_then(|h| h.split('/').next())
        && valid(id)
    {
        return Some(id.to_ascii_lowercase());
    }
    let mut parts = traceparent?.split('-');
    let (_version, id) = (parts.next()?, parts.next()?);
    valid(id).then(|| id.to_ascii_lowercase())
}

/// A `tracing` layer writing one Cloud Logging JSON object per event.
pub struct CloudLoggingLayer<W> {
    /// Cloud Logging links a line to its trace only by the full `projects/<id>/traces/<trace>` name.
    project_id: String,
    /// Where finished lines go.
    writer: W,
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

/// Receives each finished log line.
pub trait LineWriter: Send + Sync + 'static {
    /// Writes one line, newline included.
    fn write_line(&self, line: &[u8]);
}

/// Standard output, locked per line so concurrent requests never interleave within a line.
pub struct Stdout;

impl LineWriter for Stdout {
    fn write_line(&self, line: &[u8]) {
        let _ = std::io::stdout().lock().write_all(line);
    }
}

/// Collects lines in memory, for tests that check what was logged.
#[derive(Clone, Default)]
pub struct CapturedLines(Arc<Mutex<Vec<u8>>>);

impl LineWriter for CapturedLines {
    fn write_line(&self, line: &[u8]) {
        if let Ok(mut buf) = self.0.lock() {
            buf.extend_from_slice(line);
        }
    }
}

impl CapturedLines {
    /// Every line captured so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let buf = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buf)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl<W: LineWriter> CloudLoggingLayer<W> {
    /// A layer writing to `writer`.
    pub fn new(project_id: &str, writer: W) -> Self {
        Self {
            project_id: project_id.to_owned(),
            writer,
        }
    }
}

impl<S, W> Layer<S> for CloudLoggingLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: LineWriter,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = JsonVisitor::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields.0));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(SpanFields(map)) = ext.get_mut::<SpanFields>() {
                let mut visitor = JsonVisitor(std::mem::take(map));
                values.record(&mut visitor);
                *map = visitor.0;
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut fields = JsonVisitor::default();
        event.record(&mut fields);
        line.extend(fields.0);
        if let Some(Value::String(trace)) = line.remove("trace") {
            line.insert(
                "logging.googleapis.com/trace".into(),
                Value::String(format!("projects/{}/traces/{trace}", self.project_id)),
            );
        }
        let severity = match *event.metadata().level() {
            Level::ERROR => "ERROR",
            Level::WARN => "WARNING",
            Level::INFO => "INFO",
            Level::DEBUG | Level::TRACE => "DEBUG",
        };
        line.insert("severity".into(), severity.into());
        line.insert("target".into(), event.metadata().target().into());
        line.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.entry("message")
            .or_insert_with(|| Value::String(String::new()));
        let mut bytes = serde_json::to_vec(&line).unwrap_or_default();
        bytes.push(b'\n');
        self.writer.write_line(&bytes);
    }
}

/// Turns `tracing` fields into JSON values.
#[derive(Default)]
struct JsonVisitor(Map<String, Value>);

impl Visit for JsonVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_comes_from_either_header() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            trace_id(Some(&format!("{id}/123;o=1")), None).as_deref(),
            Some(id)
        );
        let parent = format!("00-{id}-00f067aa0ba902b7-01");
        assert_eq!(trace_id(None, Some(&parent)).as_deref(), Some(id));
        assert_eq!(trace_id(Some("garbage"), Some("also-garbage")), None);
    }

    #[test]
    fn a_line_carries_severity_message_span_fields_and_the_trace() {
        let lines = CapturedLines::default();
        let subscriber =
            tracing_subscriber::registry().with(CloudLoggingLayer::new("proj", lines.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "r-1", trace = "abc");
            let _guard = span.enter();
            tracing::warn!(seats = 3, "pool is full");
        });
        let lines = lines.lines();
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["severity"], "WARNING");
        assert_eq!(line["message"], "pool is full");
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["seats"], 3);
        assert_eq!(
            line["logging.googleapis.com/trace"],
            "projects/proj/traces/abc"
        );
    }
}

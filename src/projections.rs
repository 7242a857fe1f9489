//! `catat projections status | rebuild NAME`.

use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::BoxError;
use crate::cli::{ProjectionsAction, ProjectionsArgs};
use crate::serve::{Domain, open_store};

/// Runs a projections tool.
#[allow(clippy::print_stdout)]
pub async fn run(args: &ProjectionsArgs, domain: &Domain) -> Result<(), BoxError> {
    let settings = crate::config::resolve_store(&args.store)?;
    let store = open_store(&settings).await?;
    match &args.action {
        ProjectionsAction::Status => {
            let head = store.head_position().await?;
            let statuses = store.projection_statuses().await?;
            println!("log head: {head}");
            if statuses.is_empty() && domain.projectors.is_empty() {
                println!("no projectors");
            }
            println!(
                "{:<32} {:>7} {:>12} {:>10}  state",
                "projector", "version", "position", "lag"
            );
            for s in statuses {
                let code_version = domain
                    .projectors
                    .iter()
                    .find(|p| p.name() == s.name)
                    .map(|p| p.version());
                let state = match (&s.error, code_version) {
                    (Some(error), _) => format!(
                        "FAILED at {}: {error}",
                        s.failed_position.unwrap_or_default()
                    ),
                    (None, Some(v)) if v != s.version => format!("rebuild pending (code has v{v})"),
                    (None, None) => "not in this build".to_owned(),
                    (None, Some(_)) => "ok".to_owned(),
                };
                println!(
                    "{:<32} {:>7} {:>12} {:>10}  {state}",
                    s.name,
                    s.version,
                    s.checkpoint.global_position,
                    (head - s.checkpoint.global_position).max(0),
                );
            }
            Ok(())
        }
        ProjectionsAction::Rebuild { name } => {
            let Some(projector) = domain.projectors.iter().find(|p| p.name() == name) else {
                let known: Vec<&str> = domain.projectors.iter().map(|p| p.name()).collect();
                return Err(format!("no projector named {name:?}; known: {known:?}").into());
            };
            let bar = ProgressBar::new(store.head_position().await?.max(0) as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:40}] {pos}/{len} events ({per_sec}, eta {eta})",
                )?
                .progress_chars("=> "),
            );
            bar.set_message(format!("rebuilding {name}"));
            let started = Instant::now();
            let applied = workers::rebuild(&store, projector.as_ref(), |done, head| {
                bar.set_length(head.max(0) as u64);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "rebuilt {name}: {applied} events in {secs:.1}s ({:.0} events/s)",
                applied as f64 / secs.max(1e-9)
            );
            Ok(())
        }
    }
}

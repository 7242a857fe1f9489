use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    catat::init_tracing();
    let cli = catat::cli::Cli::parse();
    match catat::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %catat::error_chain(&*err), "catat stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

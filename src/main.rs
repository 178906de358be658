use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = sidak::cli::Cli::parse();
    match sidak::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sidak: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    sovtui::cli::main()
}

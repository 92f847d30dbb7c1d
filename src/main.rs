fn main() -> std::process::ExitCode {
    berrah::cli::main()
}

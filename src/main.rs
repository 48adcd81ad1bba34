fn main() -> std::process::ExitCode {
    data_engineer_mcp::cli::main()
}

//! `bindery-parse REQUEST`: parses one untrusted file for a stage, in a
//! child process the stage started with limits (see
//! `bindery_stages::sandbox`). The `bindery` binary serves the same requests
//! as `bindery __parse REQUEST`; this one exists for the crate's tests and
//! for programs that embed the stages without the `bindery` binary.

fn main() -> std::process::ExitCode {
    bindery_stages::sandbox::serve(std::env::args_os().skip(1))
}

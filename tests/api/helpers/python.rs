//! Python with the independent checkers `scripts/test` installs under `target/py`
//! (openapi-spec-validator, PyJWT, openbadgeslib). Without them a test says so and skips
//! its check, except under CI=true, where they are required.

use std::path::Path;
use std::process::Command;

/// `python3` able to import every one of `modules`, if installed.
pub fn python_with(modules: &[&str]) -> Option<Command> {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py");
    let imports = format!("import {}", modules.join(", "));
    let found = Command::new("python3")
        .env("PYTHONPATH", &lib)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        let mut command = Command::new("python3");
        command.env("PYTHONPATH", &lib);
        return Some(command);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: {modules:?} missing from {}; scripts/test installs them with pip",
        lib.display()
    );
    eprintln!("{modules:?} not installed: this independent check is skipped");
    None
}

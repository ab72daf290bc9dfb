//! Build script shared by the packages that link libtorch (the `esmc` binary and the
//! trainer): records libtorch's library directory as an rpath, so binaries, tests and
//! examples find `libtorch_cpu.so` and friends at run time without `LD_LIBRARY_PATH`.
//!
//! The directory comes from `LIBTORCH`, which `scripts/env.sh` sets after installing
//! libtorch (see `scripts/setup-libtorch.sh`).

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}

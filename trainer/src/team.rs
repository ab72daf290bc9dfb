//! Running a closure on libtorch's own OpenMP team.
//!
//! libtorch parallelises its kernels with OpenMP: after each parallel region the team's
//! worker threads keep spinning for a while, waiting for the next one. Work done in Rust
//! between libtorch calls (the row-wise embedding update) on a thread of its own would
//! compete with those spinning workers for the cores; handed to the team instead, it
//! starts on the spinning workers at once, the way libtorch's `at::parallel_for` does.
//! The entry point is libgomp's `GOMP_parallel` (which LLVM's OpenMP runtime exports
//! too), looked up at run time in the already loaded libraries; without it, the work
//! runs on the calling thread.

use std::ffi::c_void;
use std::sync::OnceLock;

type Body = unsafe extern "C" fn(*mut c_void);
type GompParallel = unsafe extern "C" fn(Body, *mut c_void, u32, u32);
type ThreadNum = unsafe extern "C" fn() -> i32;
type NumThreads = unsafe extern "C" fn() -> i32;

struct Omp {
    parallel: GompParallel,
    thread_num: ThreadNum,
    num_threads: NumThreads,
}

fn omp() -> Option<&'static Omp> {
    static OMP: OnceLock<Option<Omp>> = OnceLock::new();
    OMP.get_or_init(|| {
        #[cfg(unix)]
        {
            let sym = |name: &std::ffi::CStr| {
                // SAFETY: dlsym with RTLD_DEFAULT looks a name up in the loaded objects.
                let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
                (!p.is_null()).then_some(p)
            };
            let (p, t, n) = (
                sym(c"GOMP_parallel")?,
                sym(c"omp_get_thread_num")?,
                sym(c"omp_get_num_threads")?,
            );
            // SAFETY: the symbols are libgomp's ABI with these C signatures.
            unsafe {
                Some(Omp {
                    parallel: std::mem::transmute::<*mut c_void, GompParallel>(p),
                    thread_num: std::mem::transmute::<*mut c_void, ThreadNum>(t),
                    num_threads: std::mem::transmute::<*mut c_void, NumThreads>(n),
                })
            }
        }
        #[cfg(not(unix))]
        None
    })
    .as_ref()
}

/// Calls `f(k, n)` once for each k in 0..n, on up to `threads` threads of the OpenMP
/// team (n = the team's size, 1 when there is no team). `f` must not panic: a panic is
/// turned into an abort rather than unwinding through C.
pub fn run(threads: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let Some(omp) = omp().filter(|_| threads > 1) else {
        f(0, 1);
        return;
    };
    struct Ctx<'a> {
        f: &'a (dyn Fn(usize, usize) + Sync),
        omp: &'static Omp,
    }
    unsafe extern "C" fn body(data: *mut c_void) {
        // SAFETY: `data` is the `Ctx` below, alive until GOMP_parallel returns.
        let ctx = unsafe { &*(data as *const Ctx) };
        // SAFETY: called inside the parallel region.
        let (k, n) = unsafe { ((ctx.omp.thread_num)(), (ctx.omp.num_threads)()) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (ctx.f)(k as usize, n.max(1) as usize)
        }));
        if r.is_err() {
            std::process::abort();
        }
    }
    let ctx = Ctx { f, omp };
    // SAFETY: GOMP_parallel runs `body(&ctx)` on each thread of a team of at most
    // `threads` threads and returns when all have finished.
    unsafe { (omp.parallel)(body, &ctx as *const Ctx as *mut c_void, threads as u32, 0) };
}

//! Running a closure on libtorch's own OpenMP team, and sizing that team to the cores
//! other processes leave free.
//!
//! libtorch parallelises its kernels with OpenMP: after each parallel region the team's
//! worker threads keep spinning for a while, waiting for the next one. Work done in Rust
//! between libtorch calls (the row-wise embedding update) on a thread of its own would
//! compete with those spinning workers for the cores; handed to the team instead, it
//! starts on the spinning workers at once, the way libtorch's `at::parallel_for` does.
//! The entry point is libgomp's `GOMP_parallel` (which LLVM's OpenMP runtime exports
//! too), looked up at run time in the already loaded libraries; without it, the work
//! runs on the calling thread.
//!
//! The same spinning is what makes a shared machine slow: a worker spinning on a core
//! another process needs, and a team that waits at every barrier for a member the
//! scheduler has taken off its core, cost a 2-thread training ten times its speed beside
//! another training or a build (docs/benchmarks.md#trainings-that-share-a-machine). The
//! [`Governor`] measures, every half second, how much of the machine other processes
//! used (Linux `/proc`), and shrinks the team to the cores they leave free, down to one
//! thread (no parallel regions, no spinning), growing it back when they are gone.

use crate::train::Progress;
use std::ffi::c_void;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// How often the [`Governor`] looks at the machine.
const PERIOD: Duration = Duration::from_millis(500);

/// Shrinks libtorch's team while other processes keep cores busy, and grows it back to
/// `max` when they stop. [`tick`](Governor::tick) must run on the thread that calls
/// libtorch (the team size is a setting of the calling thread); [`Governed`] ticks it
/// after every batch. Off (the team stays as it is) with `max` ≤ 1, off Linux, and when
/// `ESMC_FIXED_THREADS` is set to anything but `0`.
pub struct Governor {
    max: i32,
    on: bool,
    state: Mutex<State>,
}

struct State {
    at: Instant,
    last: Option<Ticks>,
    threads: i32,
    /// Ticks, and ticks that found the team below `max`.
    ticks: u64,
    shrunk: u64,
}

/// CPU time in clock ticks: busy time of all cores, and this process's share of it.
#[derive(Clone, Copy)]
struct Ticks {
    all: u64,
    own: u64,
    cores: usize,
}

impl Governor {
    /// A governor for a team of at most `max` threads, starting from libtorch's current
    /// team size (call it on the training thread too).
    pub fn new(max: i32) -> Self {
        let fixed = std::env::var("ESMC_FIXED_THREADS").is_ok_and(|v| v != "0");
        Governor {
            max: max.max(1),
            on: max > 1 && !fixed && cfg!(target_os = "linux"),
            state: Mutex::new(State {
                at: Instant::now(),
                last: ticks(),
                threads: tch::get_num_threads(),
                ticks: 0,
                shrunk: 0,
            }),
        }
    }

    /// The team size now.
    pub fn threads(&self) -> i32 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).threads
    }

    /// The share of ticks (batches) that ran on a team smaller than `max`.
    pub fn shrunk_share(&self) -> f64 {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.shrunk as f64 / st.ticks.max(1) as f64
    }

    /// Every [`PERIOD`]: the cores other processes used since the last look, and the team
    /// resized to what they leave (libtorch's `set_num_threads` on this thread).
    pub fn tick(&self) {
        if !self.on {
            return;
        }
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.ticks += 1;
        st.shrunk += u64::from(st.threads < self.max);
        let elapsed = st.at.elapsed();
        if elapsed < PERIOD {
            return;
        }
        let now = ticks();
        if let (Some(a), Some(b)) = (st.last, now) {
            let hz = clock_ticks_per_s();
            let others = (b.all.saturating_sub(a.all) as f64 - b.own.saturating_sub(a.own) as f64)
                / (elapsed.as_secs_f64() * hz);
            let next = team_size(st.threads, self.max, b.cores as f64, others.max(0.0));
            if next != st.threads {
                tch::set_num_threads(next);
                st.threads = next;
            }
        }
        st.at = Instant::now();
        st.last = now;
    }
}

/// The team size after a look that found other processes using `others` of `cores`
/// cores, for a team of `current` (at most `max`): shrunk as soon as the team plus the
/// others would oversubscribe the cores by more than a quarter of one, grown only once
/// the others leave all but a tenth of the extra core, so that the size does not flap.
pub fn team_size(current: i32, max: i32, cores: f64, others: f64) -> i32 {
    let fits = |slack: f64| ((cores - others + slack).floor() as i32).clamp(1, max.max(1));
    let (shrink, grow) = (fits(0.25), fits(0.1));
    if shrink < current {
        shrink
    } else if grow > current {
        grow
    } else {
        current.clamp(1, max.max(1))
    }
}

/// A progress report that also ticks a [`Governor`] after each batch (reports come from
/// the training thread, between libtorch calls).
pub struct Governed<'a> {
    pub inner: &'a dyn Progress,
    pub governor: &'a Governor,
}

impl Progress for Governed<'_> {
    fn start(&self, total: u64) {
        self.inner.start(total);
    }
    fn advance(&self, n: u64) {
        self.inner.advance(n);
        self.governor.tick();
    }
    fn finish(&self) {
        self.inner.finish();
    }
}

#[cfg(target_os = "linux")]
fn ticks() -> Option<Ticks> {
    // /proc/stat: "cpu  user nice system idle iowait irq softirq steal ...", then a line
    // per core; busy = all but idle and iowait (guest time is counted in user already)
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let mut lines = stat.lines();
    let f: Vec<u64> = lines
        .next()?
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let all = f.iter().take(8).sum::<u64>() - f.get(3)? - f.get(4)?;
    let cores = lines
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count();
    // /proc/self/stat: utime and stime are the 14th and 15th fields, the 12th and 13th
    // after the command name's closing parenthesis
    let me = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut rest = me[me.rfind(')')? + 1..].split_whitespace().skip(11);
    let own = rest.next()?.parse::<u64>().ok()? + rest.next()?.parse::<u64>().ok()?;
    Some(Ticks {
        all,
        own,
        cores: cores.max(1),
    })
}

#[cfg(not(target_os = "linux"))]
fn ticks() -> Option<Ticks> {
    None
}

fn clock_ticks_per_s() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz > 0 {
            return hz as f64;
        }
    }
    100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_machine_keeps_the_whole_team() {
        assert_eq!(team_size(2, 2, 2.0, 0.0), 2);
        assert_eq!(team_size(2, 2, 2.0, 0.2), 2);
        assert_eq!(team_size(2, 2, 16.0, 3.0), 2);
    }

    #[test]
    fn a_busy_neighbour_shrinks_the_team_to_the_free_cores() {
        // another training or a build on one of two cores: one thread
        assert_eq!(team_size(2, 2, 2.0, 1.0), 1);
        assert_eq!(team_size(2, 2, 2.0, 0.4), 1);
        // never below one thread, however busy the machine
        assert_eq!(team_size(2, 2, 2.0, 5.0), 1);
        assert_eq!(team_size(8, 8, 8.0, 3.0), 5);
    }

    #[test]
    fn the_team_grows_back_only_with_a_margin() {
        // 0.4 of a core busy: shrunk from 2, but not grown back from 1 (no flapping)
        assert_eq!(team_size(1, 2, 2.0, 0.4), 1);
        assert_eq!(team_size(1, 2, 2.0, 0.05), 2);
        assert_eq!(team_size(1, 2, 2.0, 0.2), 1);
        // never above the configured most
        assert_eq!(team_size(1, 2, 16.0, 0.0), 2);
    }

    #[test]
    fn the_machine_is_read_on_linux() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let a = ticks().expect("/proc/stat and /proc/self/stat");
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let b = ticks().unwrap();
        assert!(b.cores >= 1);
        // 200 ms of this thread's CPU is this process's, and the machine's
        assert!(b.own > a.own, "own ticks {} -> {}", a.own, b.own);
        assert!(b.all - a.all >= b.own - a.own);
    }

    #[test]
    fn busy_processes_beside_shrink_the_team() {
        if !cfg!(target_os = "linux") || std::env::var_os("ESMC_FIXED_THREADS").is_some() {
            return;
        }
        let cores = ticks().unwrap().cores;
        let mut busy: Vec<_> = (0..cores.min(4))
            .map(|_| {
                std::process::Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .spawn()
                    .expect("sh")
            })
            .collect();
        tch::set_num_threads(cores as i32);
        let g = Governor::new(cores as i32);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1500) && g.threads() == cores as i32 {
            std::thread::sleep(Duration::from_millis(50));
            g.tick();
        }
        for c in &mut busy {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert!(
            g.threads() < cores as i32,
            "team of {} on {cores} cores",
            g.threads()
        );
        assert_eq!(tch::get_num_threads(), g.threads());
    }

    #[test]
    fn run_calls_each_member_once() {
        let seen = Mutex::new(Vec::new());
        run(2, &|k, n| seen.lock().unwrap().push((k, n)));
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let n = seen[0].1;
        assert_eq!(seen, (0..n).map(|k| (k, n)).collect::<Vec<_>>());
    }
}

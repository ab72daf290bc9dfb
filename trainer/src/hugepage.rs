//! Transparent huge pages for the embedding tables and their optimizer state.
//!
//! A training step reads and writes tens of thousands of random rows of tables that are
//! far larger than the caches (ESMM's benchmark: 2M rows x 18 floats, times three with
//! Adam's moments). With 4 KiB pages almost every such row also misses the TLB; with
//! 2 MiB pages the page-table walks disappear. Machines commonly run THP in `madvise`
//! mode, where only memory that asks for it gets huge pages, so the tables ask.

use tch::{Kind, Tensor};

const HUGE: usize = 2 << 20;

/// Below this size a table is left alone (it fits the caches or the TLB anyway).
const MIN_BYTES: usize = 8 * HUGE;

/// An uninitialised contiguous f32 CPU tensor whose memory asks for huge pages before
/// it is first touched (the caller fills it).
pub fn empty(shape: &[i64]) -> Tensor {
    let t = Tensor::empty(shape, (Kind::Float, tch::Device::Cpu));
    advise(&t);
    t
}

/// A zero-filled tensor shaped like `like`, with huge pages.
pub fn zeros_like(like: &Tensor) -> Tensor {
    let mut t = empty(&like.size());
    let _ = t.zero_();
    t
}

/// A tensor shaped like `like` filled with `value`, with huge pages.
pub fn full_like(like: &Tensor, value: f64) -> Tensor {
    let mut t = empty(&like.size());
    let _ = t.fill_(value);
    t
}

/// Asks the kernel for huge pages over the 2 MiB-aligned interior of `t`'s memory. A
/// hint: where the kernel refuses (THP off, another OS) nothing changes but speed.
fn advise(t: &Tensor) {
    let bytes = t.numel() * t.kind().elt_size_in_bytes();
    if bytes < MIN_BYTES || t.device() != tch::Device::Cpu {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let start = t.data_ptr() as usize;
        let lo = start.div_ceil(HUGE) * HUGE;
        let hi = (start + bytes) / HUGE * HUGE;
        if hi > lo {
            // SAFETY: [lo, hi) lies inside the tensor's allocation, which outlives the
            // call; MADV_HUGEPAGE changes no content.
            unsafe {
                libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE);
            }
        }
    }
}

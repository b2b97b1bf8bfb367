//! The open-file limit: each connection is a descriptor, and a test that asks for more than the
//! process may open would fail every connect in a tight loop. The soft limit is raised to what
//! the test needs when the hard limit allows; otherwise the test is refused before it starts.

/// Raise the soft `RLIMIT_NOFILE` to `needed` if it is lower; `Err((soft, hard))` when the
/// hard limit is lower still.
#[allow(unsafe_code)]
// `rlim_t` is u64 on Linux but not on every libc.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn ensure_open_files(needed: u64) -> Result<(), (u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live, writable rlimit; getrlimit only writes into it.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        // Unknown: let the test try.
        return Ok(());
    }
    let (soft, hard) = (lim.rlim_cur as u64, lim.rlim_max as u64);
    if soft >= needed {
        return Ok(());
    }
    let raised = libc::rlimit {
        rlim_cur: needed.min(hard) as libc::rlim_t,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit reads a valid rlimit; raising the soft limit up to the hard one is
    // always permitted.
    let ok = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0;
    if ok && hard >= needed {
        Ok(())
    } else {
        Err((soft, hard))
    }
}

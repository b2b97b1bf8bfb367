//! A sleep precise to microseconds that runs on the load runtime itself: a `timerfd` (an
//! hrtimer, no timer slack) registered with tokio's reactor. The open model's schedule sleeps
//! on it between arrivals, so a due request wakes the runtime once, where a schedule thread
//! sleeping with `nanosleep` cost two more context switches per request (its own wake-up and
//! the runtime's), which were most of the open model's CPU. tokio's own timer rounds to a
//! millisecond, and every millisecond a request is sent late would be charged to the server.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// A one-shot timer on `CLOCK_MONOTONIC` (the clock `Instant` reads on Linux).
pub(crate) struct PreciseTimer {
    fd: AsyncFd<OwnedFd>,
    /// `CLOCK_MONOTONIC` at `base`.
    base_mono: Duration,
    base: Instant,
}

impl PreciseTimer {
    /// A timer; `None` where timerfd is missing (callers then use tokio's timer).
    #[allow(unsafe_code)]
    pub(crate) fn new() -> Option<PreciseTimer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is a new descriptor
        // that nothing else owns, so OwnedFd may take it.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a valid descriptor owned by no one else (see above).
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a live, writable timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
            return None;
        }
        let base = Instant::now();
        // SAFETY: the OwnedFd is moved into the AsyncFd, which owns it until it is dropped, so
        // the descriptor stays open and the same for the registration's whole life.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()?;
        Some(PreciseTimer {
            fd,
            base_mono: Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32),
            base,
        })
    }

    /// Sleep until `at` (at once when it has passed).
    #[allow(unsafe_code)]
    pub(crate) async fn sleep_until(&self, at: Instant) {
        if at <= Instant::now() {
            return;
        }
        let target = self.base_mono + at.saturating_duration_since(self.base);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: target.as_secs() as libc::time_t,
                tv_nsec: libc::c_long::from(target.subsec_nanos() as i32),
            },
        };
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: `spec` is a valid itimerspec, the old-value pointer may be null.
        let set = unsafe {
            libc::timerfd_settime(fd, libc::TFD_TIMER_ABSTIME, &spec, std::ptr::null_mut())
        };
        if set != 0 {
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            return;
        }
        loop {
            let Ok(mut ready) = self.fd.readable().await else {
                tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                return;
            };
            let mut expirations = [0u8; 8];
            // SAFETY: reading at most 8 bytes into an 8-byte buffer.
            let n = unsafe { libc::read(fd, expirations.as_mut_ptr().cast(), 8) };
            if n == 8 {
                return;
            }
            // Not expired yet (EAGAIN): wait for the reactor again.
            ready.clear_ready();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_to_the_microsecond_not_the_millisecond() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let timer = PreciseTimer::new().expect("timerfd");
            let mut late = Vec::new();
            for _ in 0..50 {
                let at = Instant::now() + Duration::from_micros(300);
                timer.sleep_until(at).await;
                let now = Instant::now();
                assert!(now >= at, "woke early");
                late.push(now - at);
            }
            late.sort();
            // tokio's timer would be up to a millisecond late; an hrtimer is tens of µs.
            assert!(
                late[25] < Duration::from_micros(500),
                "median lateness {:?}",
                late[25]
            );
            timer
                .sleep_until(Instant::now() - Duration::from_secs(1))
                .await;
        });
    }
}

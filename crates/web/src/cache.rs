//! Responses derived from the history, kept until the store's generation moves: the series
//! endpoint and the dashboard's pages are read far more often than the history is written,
//! and a read that misses costs a query over the history while a hit costs one row.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// Past this many entries the cache starts again (keys come from query strings).
const MAX_ENTRIES: usize = 4096;

/// What a body was made from: the store's generation and that of the alerts it shows.
pub(crate) type Version = (i64, i64);

/// Bodies by request key, each with the version it was made at.
#[derive(Default)]
pub(crate) struct Cache {
    map: Mutex<HashMap<String, (Version, Bytes)>>,
}

impl Cache {
    /// The body for `key` made at `generation`, or `make`'s (kept when it succeeds).
    pub(crate) fn get_or<E>(
        &self,
        key: String,
        generation: Version,
        make: impl FnOnce() -> Result<String, E>,
    ) -> Result<Bytes, E> {
        if let Some((g, body)) = self.lock().get(&key) {
            if *g == generation {
                return Ok(body.clone());
            }
        }
        // Made outside the lock: a slow page does not hold up hits on others.
        let body = Bytes::from(make()?);
        let mut map = self.lock();
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(key, (generation, body.clone()));
        Ok(body)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Version, Bytes)>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_same_generation_and_a_failure_is_not_kept() {
        let c = Cache::default();
        let mut made = 0;
        let mut get = |g: i64| {
            c.get_or("k".into(), (g, 0), || {
                made += 1;
                Ok::<_, ()>(format!("body {g}"))
            })
            .unwrap()
        };
        assert_eq!(get(1), "body 1");
        assert_eq!(get(1), "body 1");
        assert_eq!(get(2), "body 2");
        assert_eq!(made, 2);
        assert!(c
            .get_or("e".into(), (1, 0), || Err::<String, _>("no"))
            .is_err());
        assert_eq!(
            c.get_or("e".into(), (1, 0), || Ok::<_, ()>("yes".into()))
                .unwrap(),
            "yes"
        );
    }
}

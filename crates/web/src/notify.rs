//! Webhooks (`serve --webhook URL`): each new alert group is POSTed as JSON to every URL, with
//! a Slack-compatible `text`. One delivery thread per server takes them from a queue, so an
//! upload never waits on a receiver; a failed delivery is retried with a doubling backoff,
//! then given up with a line in the log.

use std::collections::HashSet;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use std::time::Duration;

use perflab_analysis::history::Alert;

use crate::alerts::{group_alerts, AlertGroup};

/// Attempts per delivery, and the first wait between them (doubled after each failure).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// The webhooks of a server and the alert groups it has seen.
pub struct Notifier {
    queue: Option<std::sync::Arc<Mutex<Sender<String>>>>,
    /// Group ids already announced (or already there when the server started); `None`
    /// before the first alert set is seen.
    seen: Mutex<Option<HashSet<String>>>,
    /// What links in the messages start with (`--public-url`).
    base_url: String,
}

impl Notifier {
    /// A notifier that POSTs to `urls` (none: it only keeps track), its links starting with
    /// `base_url`.
    pub fn new(urls: Vec<String>, base_url: String) -> Notifier {
        let queue = (!urls.is_empty()).then(|| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || deliver(&urls, &rx));
            std::sync::Arc::new(Mutex::new(tx))
        });
        Notifier {
            queue,
            seen: Mutex::new(None),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// The notifier of one of the server's projects: the same webhooks, links into the
    /// project's pages, its own record of what was announced.
    pub(crate) fn for_project(&self, project: &str) -> Notifier {
        Notifier {
            queue: self.queue.clone(),
            seen: Mutex::new(None),
            base_url: format!("{}/p/{}", self.base_url, crate::pages::seg(project)),
        }
    }

    /// Whether any webhook is set.
    pub(crate) fn has_webhooks(&self) -> bool {
        self.queue.is_some()
    }

    /// A new alert set was computed: the open groups not seen before are announced. The first
    /// set a server sees is the history it started with, and is not announced.
    pub(crate) fn observe(&self, alerts: &[Alert]) {
        let groups = group_alerts(alerts);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let Some(known) = seen.as_mut() else {
            *seen = Some(groups.into_iter().map(|g| g.id).collect());
            return;
        };
        for g in groups {
            if g.acknowledged || !known.insert(g.id.clone()) {
                continue;
            }
            if let Some(q) = &self.queue {
                let message = self.message(&g, alerts);
                let _ = q.lock().unwrap_or_else(|p| p.into_inner()).send(message);
            }
        }
    }

    /// The JSON of one group: what changed, where, and links to the charts around it.
    fn message(&self, g: &AlertGroup, alerts: &[Alert]) -> String {
        let base = &self.base_url;
        let rows: Vec<&Alert> = g
            .alerts
            .iter()
            .filter_map(|id| alerts.iter().find(|a| &a.id == id))
            .collect();
        let link = |a: &Alert| {
            let q = form_urlencoded::Serializer::new(String::new())
                .append_pair("benchmark", &a.benchmark)
                .append_pair("metric", &a.metric)
                .append_pair("branch", a.branch.as_deref().unwrap_or(""))
                .append_pair("base", &a.run_id)
                .finish();
            format!("{base}/bench?{q}")
        };
        let items: Vec<serde_json::Value> = rows
            .iter()
            .map(|a| {
                serde_json::json!({
                    "id": a.id,
                    "benchmark": a.benchmark,
                    "metric": a.metric,
                    "branch": a.branch,
                    "commit": a.commit,
                    "run_id": a.run_id,
                    "change": a.change,
                    "p_value": a.p_value,
                    "direction": a.direction,
                    "link": link(a),
                })
            })
            .collect();
        let listed: Vec<String> = rows
            .iter()
            .take(5)
            .map(|a| format!("{} {} {:+.1}%", a.benchmark, a.metric, a.change * 100.0))
            .collect();
        let more = rows.len().saturating_sub(5);
        let text = format!(
            "perflab: {} regression{} and {} improvement{} on {} at {}: {}{} {base}/alerts",
            g.regressions,
            if g.regressions == 1 { "" } else { "s" },
            g.improvements,
            if g.improvements == 1 { "" } else { "s" },
            g.branch.as_deref().unwrap_or("(no branch)"),
            g.commit
                .as_deref()
                .map_or(g.run_id.chars().take(13).collect(), |c| c
                    .chars()
                    .take(10)
                    .collect::<String>(
                )),
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
        );
        serde_json::json!({
            "schema": "perflab.alert-group.v1",
            "group": g,
            "alerts": items,
            "link": format!("{base}/alerts"),
            "text": text,
        })
        .to_string()
    }
}

/// The delivery thread: each message to each URL, retried with backoff.
fn deliver(urls: &[String], queue: &Receiver<String>) {
    while let Ok(message) = queue.recv() {
        for url in urls {
            let mut wait = FIRST_BACKOFF;
            for attempt in 1..=ATTEMPTS {
                match crate::push::post(url, None, None, &message, None) {
                    Ok((200..=299, _)) => break,
                    outcome => {
                        let why = match outcome {
                            Ok((status, body)) => format!("answered {status}: {}", body.trim()),
                            Err(e) => e.to_string(),
                        };
                        if attempt == ATTEMPTS {
                            eprintln!(
                                "perflab serve: webhook {}: {why}; given up after {ATTEMPTS} attempts",
                                redacted(url)
                            );
                        } else {
                            std::thread::sleep(wait);
                            wait *= 2;
                        }
                    }
                }
            }
        }
    }
}

/// A webhook URL without its path: Slack's and others' paths are the secret.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{}/…", rest.split('/').next().unwrap_or("")),
        None => "(a webhook)".into(),
    }
}

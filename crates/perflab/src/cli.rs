//! The command line, as clap definitions. Flags shared by several commands (`--out`, `--json`,
//! `--no-store`, `--format`) are spelled the same everywhere.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A performance lab in one binary: time commands, run benchmark harnesses, compare with
/// statistics, check targets, keep a history, report.
#[derive(Debug, Parser)]
#[command(name = "perflab", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 a performance gate failed, 2 usage, input or runtime error, \
130 stopped by Ctrl-C.\n\
perflab alone at a terminal asks what to do (scan, profile, bench, load, compare, report, \
checklist) and on what, then prints the equivalent command.\n\
Examples:\n  perflab scan\n  perflab bench FaceSearch\n  perflab load /api/v1/search --vus 100\n  perflab run 'sleep 0.1' 'sleep 0.2'\n  perflab bench -- go test -bench . -count 10\n  \
perflab compare main HEAD-results.json\n  perflab check\n  perflab report --format markdown"
)]
pub(crate) struct Cli {
    /// The history database (default: .perflab/history.db at the repository root).
    #[arg(long, global = true, value_name = "PATH", env = "PERFLAB_STORE")]
    pub(crate) store: Option<PathBuf>,
    /// The config file (default: perflab.toml at the repository root, if present).
    #[arg(long, global = true, value_name = "PATH", env = "PERFLAB_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// Colour: auto (on a terminal, unless NO_COLOR is set; CLICOLOR_FORCE forces it),
    /// always, never.
    #[arg(long, global = true, value_enum, default_value_t = crate::term::ColorWhen::Auto, value_name = "WHEN")]
    pub(crate) color: crate::term::ColorWhen,
    /// Print only results, warnings and errors: no progress, no status lines.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: bool,
    /// Also print the commands perflab runs and the files it writes.
    #[arg(short, long, global = true)]
    pub(crate) verbose: bool,
    /// None: the interactive `/benchmark` assistant on a terminal, help elsewhere.
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Time whole commands, hyperfine style.
    #[command(
        long_about = "Time whole commands, hyperfine style (wall, user, sys time and peak RSS per \
run); each COMMAND is one command line, run without a shell unless --shell; each is compared with the first.",
        after_help = "Examples:\n  perflab run 'sleep 0.01' 'sleep 0.02'\n  perflab run --warmup 3 --runs 20 -- './parse big.json'\n  \
perflab run -P threads 1 4 'app --threads {threads}'\n  perflab run -L backend kafka,memory 'broker --backend {backend}'"
    )]
    Run(RunArgs),
    /// Run a benchmark harness and read its results.
    #[command(
        long_about = "Run a harness (go test -bench, cargo bench, criterion, Google Benchmark, \
pytest, hyperfine), asking it for machine-readable output where needed, and read its results. \
With NAME|SCOPE instead of a command, the project's own benchmarks in that scope are run (Go, \
Cargo, pytest-benchmark are detected) and compared with the baseline: exit 1 on a regression.",
        after_help = "Examples:\n  perflab bench FaceSearch                  # go test -bench FaceSearch in its package\n  \
perflab bench ./internal/service --depth deep\n  \
perflab bench -- go test -run '^$' -bench . -benchmem -count 10 ./...\n  \
perflab bench -- cargo bench\n  perflab bench --format gbench -- ./bench --benchmark_format=json"
    )]
    Bench(BenchArgs),
    /// Read result files written by a harness (or by perflab).
    #[command(
        after_help = "Examples:\n  perflab import bench.txt\n  perflab import --format criterion-dir target/criterion"
    )]
    Import(ImportArgs),
    /// Compare two sets of results with statistics (benchstat style) and gate on regressions.
    #[command(
        long_about = "Compare BASE with each CURRENT as benchstat does (medians, 95% CIs, change, \
Mann-Whitney p). The gate (exit 1) fails a row that is worse beyond the allowed change (10%) and \
significant after Holm by the gate's test (docs/statistics.md). Inputs: files, latest, run ids, \
baselines, branches; one input with --col PARAM compares that parameter's values. With A..B, each git revision is checked out under .perflab/worktrees (your checkout is never touched), built with --build, and CMD runs in both alternately for --rounds (docs/ci.md).",
        after_help = "Examples:\n  perflab compare old.txt new.txt\n  perflab compare main current.json --format markdown\n  \
perflab compare results.json --col backend\n  perflab compare main latest --filter 'Search*' --max-change 5%\n  \
perflab compare main...HEAD --build 'go build ./...' -- go test -bench . -run '^$' ./...\n  \
perflab compare HEAD..WORKTREE --time -- ./target/release/app input.json\n  \
perflab compare --aa --rounds 20 -- go test -bench . -run '^$'\n  \
perflab compare main..HEAD --budget 10m --fail-on-inconclusive"
    )]
    Compare(Box<CompareArgs>),
    /// Check results against the targets in perflab.toml.
    #[command(
        after_help = "Targets look like:\n  [[target]]\n  benchmark = \"Search*\"\n  metric = \"p99\"\n  target = \"< 5ms\"\n  critical = \"< 10ms\"\n\nExamples:\n  perflab check\n  perflab check results.json --strict"
    )]
    Check(CheckArgs),
    /// The report of this commit (every run recorded for it, joined) or of one run, as Markdown,
    /// HTML, JSON or Prometheus text.
    #[command(
        long_about = "Without RUN: the report of the current commit, every bench, load and profile \
run recorded for it joined: a summary against the targets, hot paths, memory hotspots, \
recommendations with their evidence and estimates, and the comparison with the previous commit \
of the default branch (exit 1 when a critical level or that gate fails). With RUN (or when the \
commit has no runs): the report of that run, against the previous run on its branch.",
        after_help = "Examples:\n  perflab report                         # this commit\n  \
perflab report --format html -o report.html\n  perflab report latest --baseline main"
    )]
    Report(ReportArgs),
    /// List the runs in the history (`--alerts`: its change points).
    #[command(
        after_help = "Examples:\n  perflab log\n  perflab log --branch main -n 50\n  perflab log --format json | jq '.[0].id'"
    )]
    Log(LogArgs),
    /// The history's change points: persistent shifts per benchmark and metric (= log --alerts).
    #[command(
        after_help = "Examples:\n  perflab alerts\n  perflab alerts --branch main --min-change 5%\n  perflab alerts --format json"
    )]
    Alerts(LogArgs),
    /// Print a stored run (`latest`, a run id or prefix, a baseline, a branch).
    #[command(
        after_help = "Examples:\n  perflab show latest\n  perflab show main --format gotest > main.txt   # for benchstat\n  perflab show run:0192ab --format json"
    )]
    Show(ShowArgs),
    /// Name a run as a baseline, list or delete baselines.
    #[command(
        subcommand,
        after_help = "Examples:\n  perflab baseline save release-1.4\n  perflab baseline save main-2026-12 01a24d96\n  \
perflab baseline list\n  perflab compare release-1.4 latest\n  perflab baseline delete release-1.4"
    )]
    Baseline(BaselineCommand),
    /// HTTP load test: open (arrival rate) or closed (virtual users) model, HDR latency.
    #[command(
        long_about = "HTTP load test. Closed model (default): -c virtual users on keep-alive \
connections, latency = service time. Open model (--rate): requests due on a schedule, latency from \
the intended send time (coordinated omission corrected). Failed requests are counted by kind.",
        after_help = "Examples:\n  perflab load http://127.0.0.1:8080/ -c 64 -d 30s\n  \
perflab load http://127.0.0.1:8080/search --rate 1000/s -d 1m --threshold 'p99<5ms'\n  \
perflab load http://127.0.0.1:8080/ --stages '30s:50,1m:100,30s:200,30s:0'\n  \
perflab load http://127.0.0.1:8080/ -c 500 -d 30s --threshold 'slow_connects<1'   # no SYN dropped\n  \
perflab load --scenario-file load.toml --rate 500/s --warmup 10s\n  \
perflab load http://127.0.0.1:8080/ -m POST -H 'X-API-Key: k' --body @query.json\n  \
perflab load /api/v1/faces/search --vus 100   # [load] base_url (and server) in perflab.toml"
    )]
    Load(Box<LoadArgs>),
    /// Merge the results of load-test segments into one run (histograms merge exactly).
    #[command(
        after_help = "Examples:\n  perflab load http://127.0.0.1:8080/ -d 30s --out a.json --segment 1/2\n  \
perflab merge a.json b.json --out all.json"
    )]
    Merge(MergeArgs),
    /// CPU (and with --alloc, allocation) profile of a command: flamegraph, top table, advice.
    #[command(
        long_about = "Profile a command (or --pid, or --input a profile): perf with the unwinding \
chosen from the binary, else callgrind, else timing; --alloc adds valgrind DHAT. Writes \
flamegraph.svg, profile.pb.gz and stacks.folded, prints the top table and advice (docs/profile.md).",
        after_help = "Examples:\n  perflab profile -- ./target/release/app --input big.json\n  \
perflab profile --alloc --profile-dir prof -- ./parser data.txt\n  perflab profile --mode callgrind -- ./app\n  \
perflab profile --pid 4242 --duration 10s\n  perflab profile --input cpu.pprof\n  \
perflab profile internal/service/face.go      # its package's benchmarks: CPU, allocations, contention, GC\n  \
perflab profile FaceSearch --depth deep"
    )]
    Profile(ProfileArgs),
    /// Profile several commands within a time budget; hottest functions per target and overall.
    #[command(
        long_about = "Profile each COMMAND for its share of --budget: hottest functions per target \
and overall; with --baseline, what got hotter (delta table, differential flamegraph). Without a \
command, or with a scope (package, benchmark name), the project's benchmarks are profiled: Go's \
with -cpuprofile and -memprofile (allocation hotspots), others under perf.",
        after_help = "Examples:\n  perflab scan                              # the project's benchmarks\n  \
perflab scan ./internal/service --depth quick\n  \
perflab scan './bench-a' './bench-b --fast' --budget 60s\n  \
perflab scan './app' --baseline main"
    )]
    Scan(ScanArgs),
    /// Serve the history: the dashboard (trends, change-point alerts), the read and upload API
    /// (/api/v1), Prometheus /metrics.
    #[command(
        after_help = "Examples:\n  perflab serve\n  perflab serve --addr 0.0.0.0:8080 --store postgres://perflab@db/perf\n  \
curl -H \"Authorization: Bearer $TOKEN\" --data-binary @run.json http://127.0.0.1:8080/api/v1/runs"
    )]
    Serve(ServeArgs),
    /// Upload a run (a stored one, or a result file) to a perflab serve.
    #[command(
        after_help = "Examples:\n  PERFLAB_TOKEN=… perflab push --server http://perf.internal:8080\n  perflab push run.json --server http://127.0.0.1:8080 --token \"$T\""
    )]
    Push(PushArgs),
    /// Upload tokens for POST /api/v1/runs: create (printed once, stored hashed), list, revoke.
    #[command(
        subcommand,
        after_help = "Examples:\n  perflab token create ci\n  perflab token list\n  perflab token revoke ci"
    )]
    Token(TokenCommand),
    /// Remove old runs from the history: all but the newest N of each branch, or those older
    /// than a duration. Runs a baseline names are kept; points and alerts follow.
    #[command(
        after_help = "Examples:\n  perflab prune --keep 500\n  perflab prune --older-than 90d --dry-run\n  \
perflab prune --keep 100 --older-than 30d --store postgres://perflab@db/perf"
    )]
    Prune(PruneArgs),
    /// Write the whole history as JSON lines, one perflab.result.v1 document per run, oldest
    /// first (a backup, or the input of another store: perflab import FILE).
    #[command(
        after_help = "Examples:\n  perflab export > history.jsonl\n  perflab export --branch main -o main.jsonl"
    )]
    Export(ExportArgs),
    /// Run a command and write its rusage as JSON (the profiler's wrapper).
    #[command(hide = true, name = "exec-usage")]
    ExecUsage(ExecUsageArgs),
    /// Run a service and take its whole process group down when perflab dies (the supervisor
    /// of `load --spawn` and `[load] server`).
    #[command(hide = true)]
    Supervise(SuperviseArgs),
    /// Set a project up: a commented perflab.toml for its benchmarks, and a CI workflow.
    #[command(
        after_help = "Examples:\n  perflab init\n  perflab init --ci github\n  perflab init --force"
    )]
    Init(InitArgs),
    /// The checklist before merging: eight items decided from this commit's runs.
    #[command(
        long_about = "The seeds' checklist before merging performance-critical code: a benchmark \
exists, P99 under its target, allocs/op measured and acceptable, no memory leak, no goroutine leak, \
a load test with 100+ VUs passed, no regression against the baseline, hot paths documented. Each \
item is decided from the runs recorded for the current commit; a missing one names the command \
that produces it. Exit 1 when an item fails.",
        after_help = "Examples:\n  perflab checklist\n  perflab checklist --format markdown >> $GITHUB_STEP_SUMMARY"
    )]
    Checklist(ChecklistArgs),
    /// A self-contained demo: time two workloads, compare them, check a target, report.
    #[command(after_help = "Examples:\n  perflab demo\n  perflab demo --runs 30")]
    Demo(DemoArgs),
    /// Print a shell completion script (from the same definitions as --help).
    #[command(
        after_help = "Examples:\n  perflab completions bash > ~/.local/share/bash-completion/completions/perflab\n  \
perflab completions zsh > \"${fpath[1]}/_perflab\"\n  perflab completions fish > ~/.config/fish/completions/perflab.fish"
    )]
    Completions(CompletionsArgs),
    /// Print the man page (roff), from the same definitions as --help.
    #[command(after_help = "Examples:\n  perflab man > /usr/local/share/man/man1/perflab.1")]
    Man,
    /// Burn CPU for a while (a deterministic workload for demos and tests).
    #[command(hide = true)]
    Spin(SpinArgs),
}

/// Where results go.
#[derive(Debug, Args)]
pub(crate) struct ResultOutput {
    /// Write the result document (perflab.result.v1 JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Print the result document on stdout instead of the summary.
    #[arg(long)]
    pub(crate) json: bool,
    /// Do not record the run in the history.
    #[arg(long)]
    pub(crate) no_store: bool,
    /// Attach a label to the run (repeatable), e.g. --label env=ci.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) label: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Commands to time (each one argument; quote commands with spaces).
    #[arg(required = true, value_name = "COMMAND")]
    pub(crate) commands: Vec<String>,
    /// Runs before measuring, not recorded.
    #[arg(short, long, default_value_t = 0, value_name = "NUM")]
    pub(crate) warmup: usize,
    /// Exact number of runs (default: as many as fit in --min-time, at least --min-runs).
    #[arg(short, long, value_name = "NUM")]
    pub(crate) runs: Option<usize>,
    /// Fewest runs when the count is time-based.
    #[arg(short = 'm', long, default_value_t = 10, value_name = "NUM")]
    pub(crate) min_runs: usize,
    /// Most runs when the count is time-based.
    #[arg(short = 'M', long, value_name = "NUM")]
    pub(crate) max_runs: Option<usize>,
    /// Keep running for at least this long, e.g. 3s, 500ms.
    #[arg(long, default_value = "3s", value_name = "DURATION")]
    pub(crate) min_time: String,
    /// Command to run before every run (not timed).
    #[arg(short, long, value_name = "CMD")]
    pub(crate) prepare: Option<String>,
    /// Sweep an integer parameter: NAME FROM TO; {NAME} in commands is replaced.
    #[arg(short = 'P', long, num_args = 3, value_names = ["NAME", "FROM", "TO"])]
    pub(crate) parameter_scan: Option<Vec<String>>,
    /// Step of --parameter-scan.
    #[arg(short = 'D', long, default_value_t = 1, value_name = "NUM")]
    pub(crate) parameter_step_size: i64,
    /// A parameter with a list of values: NAME a,b,c (repeatable).
    #[arg(short = 'L', long, num_args = 2, value_names = ["NAME", "VALUES"], action = clap::ArgAction::Append)]
    pub(crate) parameter_list: Vec<String>,
    /// Run commands through a shell (default: no shell). Optionally name it.
    #[arg(short = 'S', long, num_args = 0..=1, default_missing_value = "sh", value_name = "SHELL")]
    pub(crate) shell: Option<String>,
    /// Time commands that exit non-zero instead of stopping.
    #[arg(short, long)]
    pub(crate) ignore_failure: bool,
    /// Let the commands' output through (it is discarded by default).
    #[arg(long)]
    pub(crate) show_output: bool,
    /// Name a command in the output (repeatable, in order).
    #[arg(short = 'n', long, value_name = "NAME")]
    pub(crate) command_name: Vec<String>,
    /// What to measure: wall/CPU time and memory, or the instructions each run executes under
    /// valgrind (deterministic: a busy machine cannot move it; default 3 runs).
    #[arg(long, value_parser = ["time", "instructions"], default_value = "time")]
    pub(crate) measure: String,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Which benchmarks, in the project's own terms: a benchmark name or pattern
    /// (`FaceSearch`), a package (`./internal/service`, `internal/service/face.go`, `./...`, a
    /// crate, a Python file or directory), or `PACKAGE:PATTERN`. The matching benchmarks are
    /// run, recorded and compared with the baseline (exit 1 on a regression).
    #[arg(value_name = "NAME|SCOPE", conflicts_with = "command")]
    pub(crate) scope: Option<String>,
    /// Compare with this baseline (default with a scope: the latest run of the default
    /// branch; `none` compares with nothing).
    #[arg(long, value_name = "NAME")]
    pub(crate) baseline: Option<String>,
    /// How long to measure with a scope: quick (1 count), standard (5), deep (10).
    #[arg(long, default_value = "standard", value_parser = ["quick", "standard", "deep"])]
    pub(crate) depth: String,
    /// The harness's output format (default: detected). `--format`/`-f` are its old spellings.
    #[arg(long, short_alias = 'f', alias = "format", value_name = "FORMAT")]
    pub(crate) input_format: Option<String>,
    /// Print the harness's output to stderr as it runs (with --profile: once it has ended).
    #[arg(long)]
    pub(crate) show_output: bool,
    /// Also profile the harness while it runs (as `perflab profile` does) and attach the
    /// profile to the run. Its figures then carry the profiler's overhead.
    #[arg(long)]
    pub(crate) profile: bool,
    /// Directory for the profile's flamegraph.svg, profile.pb.gz and stacks.folded.
    #[arg(long, default_value = "perflab-profile", value_name = "DIR")]
    pub(crate) profile_dir: PathBuf,
    #[command(flatten)]
    pub(crate) profile_options: ProfileOptions,
    /// What to measure: the harness's own results (time), or each Go benchmark's instructions
    /// per op under valgrind (one package; deterministic, so one count is enough).
    #[arg(long, value_parser = ["time", "instructions"], default_value = "time")]
    pub(crate) measure: String,
    /// The harness command and its arguments (default: `[bench] command` in perflab.toml).
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Result files (or a criterion directory).
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Their format (default: detected per file). `--format`/`-f` are its old spellings.
    #[arg(long, short_alias = 'f', alias = "format", value_name = "FORMAT")]
    pub(crate) input_format: Option<String>,
    /// The files are `perflab export` output: store each run as it was (same id), not one
    /// new run. A run already stored is skipped; another under its id is an error.
    #[arg(long, conflicts_with = "input_format")]
    pub(crate) history: bool,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The base: a file, run id, baseline name or branch; or `A..B` / `A...B`, two git
    /// revisions to build and measure interleaved (B against the merge base with `...`).
    /// Without it: the working tree against the merge base of the default branch
    /// (`main...WORKTREE`), running the project's benchmarks.
    #[arg(value_name = "BASE")]
    pub(crate) base: Option<String>,
    /// The current results; several are each compared with BASE (omit with --col).
    #[arg(value_name = "CURRENT")]
    pub(crate) current: Vec<String>,
    /// Leave these params out of benchmark identities before comparing (benchstat's -ignore),
    /// e.g. `--ignore procs` to compare runs from machines with different core counts.
    #[arg(long, value_name = "KEY,...", value_delimiter = ',')]
    pub(crate) ignore: Vec<String>,
    /// Compare across the values of this benchmark parameter in one input.
    #[arg(long, value_name = "PARAM")]
    pub(crate) col: Option<String>,
    /// Show only these params in row names (others are still part of the identity).
    #[arg(long, value_name = "PARAM,...", value_delimiter = ',')]
    pub(crate) row: Vec<String>,
    /// Keep benchmarks whose name matches this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub(crate) filter: Vec<String>,
    /// Keep only these metrics (repeatable).
    #[arg(long, value_name = "NAME")]
    pub(crate) metric: Vec<String>,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown", "csv", "html"])]
    pub(crate) format: String,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
    /// Write the output to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Significance level.
    #[arg(long, value_name = "ALPHA")]
    pub(crate) alpha: Option<f64>,
    /// Confidence level of the intervals.
    #[arg(long, value_name = "LEVEL")]
    pub(crate) confidence: Option<f64>,
    /// Multiple-comparison correction for the gate.
    #[arg(long, value_parser = ["none", "holm", "bh"])]
    pub(crate) correction: Option<String>,
    /// Allowed change for every metric without a rule, e.g. 5%.
    #[arg(long, value_name = "PCT")]
    pub(crate) max_change: Option<String>,
    /// Read inputs in this format (default: detected).
    #[arg(long, short_alias = 'f', value_name = "FORMAT")]
    pub(crate) input_format: Option<String>,
    /// A benchmark or metric on one side only fails the gate.
    #[arg(long)]
    pub(crate) fail_on_missing: bool,
    /// A row too noisy to tell whether it exceeds the allowed change fails the gate (by default
    /// it passes with a warning naming the noise and the rounds that would tell).
    #[arg(long)]
    pub(crate) fail_on_inconclusive: bool,
    /// Also write the comparison as a pull-request comment body (Markdown with a marker line).
    #[arg(long, value_name = "FILE")]
    pub(crate) pr_comment: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) ab: AbArgs,
}

/// `compare A..B -- CMD`: build two git revisions and measure them interleaved.
#[derive(Debug, Args)]
pub(crate) struct AbArgs {
    /// Build command run in each revision's checkout (default: `[build] command`).
    #[arg(long, value_name = "CMD")]
    pub(crate) build: Option<String>,
    /// Rounds measured first; each runs both sides once (default 10, or `[compare] rounds`).
    #[arg(long, value_name = "N")]
    pub(crate) rounds: Option<usize>,
    /// While a row is inconclusive, measure more rounds (as many again each time) up to N in
    /// all (default 4 × --rounds, or `[compare] max_rounds`); equal to --rounds turns it off.
    #[arg(long, value_name = "N")]
    pub(crate) max_rounds: Option<usize>,
    /// Finish within this wall time (`10m`, `90s`; default `[compare] budget`): the warm-up
    /// times a round and the rounds are chosen to fit; fewer than 3 that fit is an error.
    #[arg(long, value_name = "DURATION")]
    pub(crate) budget: Option<String>,
    /// Warm-up runs per side before the rounds, not recorded.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) warmup: usize,
    /// Order within rounds: alternate (AB BA AB…) or random (seeded, see --seed).
    #[arg(long, value_parser = ["alternate", "random"], default_value = "alternate")]
    pub(crate) order: String,
    /// Seed of --order random (default: from the clock, printed).
    #[arg(long, value_name = "N")]
    pub(crate) seed: Option<u64>,
    /// Time CMD as `perflab run` does instead of reading a harness's output.
    #[arg(long)]
    pub(crate) time: bool,
    /// What each round measures: the harness's results (time), or instruction counts under
    /// valgrind: per op for a Go benchmark command (one package), of the whole process with
    /// --time.
    #[arg(long, value_parser = ["time", "instructions"], default_value = "time")]
    pub(crate) measure: String,
    /// Self-test: run CMD in this checkout as both sides and report the smallest regression
    /// each benchmark could show on this machine.
    #[arg(long)]
    pub(crate) aa: bool,
    /// Print CMD's output to stderr as it runs.
    #[arg(long)]
    pub(crate) show_output: bool,
    /// Do not record the A/B run in the history.
    #[arg(long)]
    pub(crate) no_store: bool,
    /// The benchmark command (default: `[bench] command`).
    #[arg(last = true, value_name = "CMD")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Also write a CI workflow.
    #[arg(long, value_parser = ["github"])]
    pub(crate) ci: Option<String>,
    /// Overwrite files that exist.
    #[arg(long)]
    pub(crate) force: bool,
    /// Do not run the benchmarks once to check the command works (it is written unchecked).
    #[arg(long)]
    pub(crate) no_verify: bool,
    /// The action the workflow uses: the repository holding perflab's action.yml, and a ref.
    #[arg(
        long,
        default_value = "perflab/perflab@main",
        value_name = "OWNER/REPO@REF"
    )]
    pub(crate) action: String,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The results: a file, run id, baseline or branch (default: the latest run).
    #[arg(value_name = "RESULT")]
    pub(crate) result: Option<String>,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    pub(crate) strict: bool,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json", "markdown"])]
    pub(crate) format: String,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Markdown,
    Json,
    Prometheus,
    Html,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The run: a file, run id, baseline or branch (default: this commit's runs joined, else
    /// the latest run).
    #[arg(value_name = "RUN")]
    pub(crate) run: Option<String>,
    /// The latest run only, even when this commit has several.
    #[arg(long, conflicts_with = "run")]
    pub(crate) latest: bool,
    /// Compare with this instead of the previous run on the same branch.
    #[arg(long, value_name = "BASE")]
    pub(crate) baseline: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Markdown)]
    pub(crate) format: ReportFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// Only runs on this branch.
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// How many runs to show.
    #[arg(short = 'n', long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub(crate) format: String,
    /// The same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub(crate) json: bool,
    /// Show the change points of every benchmark × metric series instead (E-Divisive means,
    /// as Apache Otava finds them; `perflab alerts` is the same).
    #[arg(long)]
    pub(crate) alerts: bool,
    /// Significance a change point must reach.
    #[arg(long, default_value_t = 0.001, value_name = "P")]
    pub(crate) max_p: f64,
    /// Smallest change reported (0% reports every significant shift, as Otava does).
    #[arg(long, default_value = "3%", value_name = "PCT")]
    pub(crate) min_change: String,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The run: `latest`, a run id or prefix, a baseline or branch name (`run:`, `baseline:` and
    /// `branch:` say which when names collide).
    #[arg(default_value = "latest", value_name = "RUN")]
    pub(crate) run: String,
    /// `json` (the perflab.result.v1 document), `gotest` (the Go benchmark format, which
    /// benchstat reads) or `text` (the summary the command printed: a load run's plan, ending,
    /// latency table and spectrum).
    #[arg(long, default_value = "json", value_parser = ["json", "gotest", "text"])]
    pub(crate) format: String,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (loopback by default; 0.0.0.0:8080 to share).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: String,
    /// Largest upload body, in bytes.
    #[arg(long, default_value_t = 32 << 20, value_name = "BYTES")]
    pub(crate) max_upload: usize,
    /// Require this token for reads too.
    #[arg(long, env = "PERFLAB_READ_TOKEN", value_name = "TOKEN")]
    pub(crate) read_token: Option<String>,
    /// POST each new alert group here as JSON with a Slack-compatible `text` (repeatable).
    #[arg(long, value_name = "URL")]
    pub(crate) webhook: Vec<String>,
    /// The dashboard's address as people reach it (behind a proxy), for links in webhooks.
    #[arg(long, value_name = "URL")]
    pub(crate) public_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// The run: a result file, `latest`, a run id, a baseline or a branch.
    #[arg(default_value = "latest", value_name = "RUN|FILE")]
    pub(crate) run: String,
    /// The server: http://HOST:PORT, or https://HOST with an optional :PORT.
    #[arg(long, env = "PERFLAB_SERVER", value_name = "URL")]
    pub(crate) server: String,
    /// Trust this CA (PEM) for https, besides the web's roots.
    #[arg(long, env = "PERFLAB_CA_FILE", value_name = "FILE")]
    pub(crate) ca_file: Option<std::path::PathBuf>,
    /// The server's project to add the run to (created on the first upload; default: the
    /// server's own history).
    #[arg(long, env = "PERFLAB_PROJECT", value_name = "NAME")]
    pub(crate) project: Option<String>,
    /// An upload token (perflab token create on the server).
    #[arg(
        long,
        env = "PERFLAB_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: String,
}

#[derive(Debug, Args)]
pub(crate) struct PruneArgs {
    /// Keep the newest N runs of each branch.
    #[arg(long, value_name = "N")]
    pub(crate) keep: Option<usize>,
    /// Remove runs started longer ago than this (90d, 12h, 2w).
    #[arg(long, value_name = "DURATION")]
    pub(crate) older_than: Option<String>,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Only runs on this branch.
    #[arg(long)]
    pub(crate) branch: Option<String>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub(crate) output: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it (only its hash is kept).
    Create { name: String },
    /// List the tokens' names.
    List,
    /// Revoke a token.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub(crate) enum BaselineCommand {
    /// Name a run (default: the latest) as a baseline.
    Save {
        /// Baseline name.
        name: String,
        /// Run id or prefix (default: the latest run).
        run: Option<String>,
    },
    /// List baselines.
    List,
    /// Delete a baseline (the run stays in the history).
    Delete {
        /// Baseline name.
        name: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Runs per workload.
    #[arg(long, default_value_t = 15)]
    pub(crate) runs: usize,
}

#[derive(Debug, Args)]
pub(crate) struct SpinArgs {
    /// Units of work (each a fixed number of hash rounds).
    #[arg(long, default_value_t = 100)]
    pub(crate) work: u64,
}

#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    pub(crate) request: perflab_load::request::LoadRequest,
    /// What a URL that is only a path (`perflab load /api/v1/search`) is joined to (default:
    /// `[load] base_url` in perflab.toml).
    #[arg(long, value_name = "URL", env = "BASE_URL")]
    pub(crate) base_url: Option<String>,
    /// Print the plan (model, stages, each scenario's first request) and send nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Exit 1 when the achieved rate is more than 1% short of the target (open model).
    #[arg(long)]
    pub(crate) fail_on_shortfall: bool,
    /// Sample this process's CPU and memory during the test.
    #[arg(long, value_name = "PID")]
    pub(crate) watch_pid: Option<u32>,
    /// Start this command (through sh) before the test, watch it, stop it after.
    #[arg(long, value_name = "CMD")]
    pub(crate) spawn: Option<String>,
    /// With --spawn: wait until 127.0.0.1:PORT accepts connections.
    #[arg(long, value_name = "PORT")]
    pub(crate) wait_port: Option<u16>,
    /// Profile the target (--spawn or --watch-pid) with perf over the measured window; the run
    /// carries its hot paths and advice (files in --profile-dir).
    #[arg(long)]
    pub(crate) profile_target: bool,
    /// Directory for the target's flamegraph.svg, profile.pb.gz and stacks.folded.
    #[arg(long, default_value = "perflab-profile", value_name = "DIR")]
    pub(crate) profile_dir: PathBuf,
    #[command(flatten)]
    pub(crate) profile: ProfileOptions,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// Result documents of load segments.
    #[arg(required = true, value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

pub(crate) use perflab_profile::record::ProfileFlags as ProfileOptions;

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    /// Profile a scope of the project instead of a command: a package (`./internal/service`,
    /// `internal/service/face.go`), a benchmark name (`FaceSearch`): CPU, allocations, block and
    /// mutex contention and GC pauses of its benchmarks.
    #[arg(value_name = "SCOPE", conflicts_with_all = ["pid", "input", "command"])]
    pub(crate) scope: Option<String>,
    /// With a scope: how long to run the benchmarks (quick, standard, deep).
    #[arg(long, default_value = "standard", value_parser = ["quick", "standard", "deep"])]
    pub(crate) depth: String,
    /// Profile this running process instead of starting a command.
    #[arg(long, value_name = "PID", conflicts_with = "input")]
    pub(crate) pid: Option<u32>,
    /// How long to profile --pid (default 10s), or the command (stopped then, as Ctrl-C would:
    /// a server is profiled for this long; default: until it exits).
    #[arg(long, value_name = "DURATION", conflicts_with = "input")]
    pub(crate) duration: Option<String>,
    /// Read a profile instead: pprof (.pb.gz), folded stacks, perf script text, callgrind.out,
    /// DHAT JSON; or fetch one from a live Go server (`--pprof-url
    /// http://127.0.0.1:6060/debug/pprof/profile?seconds=10`, `/heap`, `/goroutine`).
    #[arg(long, visible_alias = "pprof-url", value_name = "FILE|URL")]
    pub(crate) input: Option<PathBuf>,
    /// With --input or --pprof-url: a profile (file or URL) to compare with, stack by stack
    /// (a goroutine profile before a load test shows the goroutines it leaked).
    #[arg(long, value_name = "FILE|URL", requires = "input")]
    pub(crate) baseline: Option<PathBuf>,
    /// With --input: the value column to show (go tool pprof's -sample_index), e.g.
    /// alloc_space or contentions (default: the profile's default, else its last).
    #[arg(long, value_name = "NAME", requires = "input")]
    pub(crate) sample_index: Option<String>,
    /// Write the command's standard output to FILE (default: perflab's stdout when that is
    /// redirected, the summary then on stderr; else stderr).
    #[arg(long, value_name = "FILE")]
    pub(crate) stdout: Option<PathBuf>,
    /// Directory for flamegraph.svg, profile.pb.gz and stacks.folded (`-o`/`--output-dir`
    /// are its old spellings).
    #[arg(
        long,
        short_alias = 'o',
        alias = "output-dir",
        default_value = "perflab-profile",
        value_name = "DIR"
    )]
    pub(crate) profile_dir: PathBuf,
    #[command(flatten)]
    pub(crate) profile: ProfileOptions,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
    /// The command and its arguments.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ChecklistArgs {
    /// Output format.
    #[arg(long, default_value = "text", value_parser = ["text", "markdown", "json"])]
    pub(crate) format: String,
    /// Write it to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The commands, one command line each; or one scope of the project (a package, a
    /// benchmark name); or nothing: the project's benchmarks (Go, Cargo, pytest-benchmark).
    #[arg(value_name = "COMMAND|SCOPE")]
    pub(crate) commands: Vec<String>,
    /// With a scope: how long to run the benchmarks (quick, standard, deep).
    #[arg(long, default_value = "standard", value_parser = ["quick", "standard", "deep"])]
    pub(crate) depth: String,
    /// Time budget for all commands together; each gets an equal share and is stopped after it.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub(crate) budget: String,
    /// Compare with this profile: a stored run id, baseline or branch, or a result file.
    #[arg(long, value_name = "BASE")]
    pub(crate) baseline: Option<String>,
    /// Directory for the flamegraphs and profiles (`-o`/`--output-dir` are its old spellings).
    #[arg(
        long,
        short_alias = 'o',
        alias = "output-dir",
        default_value = "perflab-scan",
        value_name = "DIR"
    )]
    pub(crate) profile_dir: PathBuf,
    #[command(flatten)]
    pub(crate) profile: ProfileOptions,
    #[command(flatten)]
    pub(crate) output: ResultOutput,
}

#[derive(Debug, Args)]
pub(crate) struct SuperviseArgs {
    /// The service's command.
    #[arg(last = true, required = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecUsageArgs {
    /// Where to write the usage JSON.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: PathBuf,
    /// Stop the command after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub(crate) timeout: Option<f64>,
    /// Start the command with address-space randomization back on (perf started this wrapper
    /// with it off, so that its unwinder tells the wrapper's libraries from the command's).
    #[arg(long)]
    pub(crate) randomize: bool,
    /// The command.
    #[arg(last = true, required = true)]
    pub(crate) command: Vec<String>,
}

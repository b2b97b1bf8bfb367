//! The program a command line finally runs when it starts with programs that only set
//! something up and exec the rest (`env`, `nice`, `taskset`, `numactl`, `timeout`, `chrt`,
//! `ionice`, `stdbuf`, `setarch`, `sh -c 'exec …'`): `perflab profile -- taskset -c 1 ./server`
//! is a profile of `./server`, so its frame pointers, its language (Go, Python) and its name
//! decide, not `taskset`'s. A line this cannot read with confidence stops at the word it could
//! not place, which is then the program (the old behaviour).

/// The words of the command `argv` finally runs: `argv` itself when it starts with no wrapper.
pub fn through_wrappers(argv: &[String]) -> Vec<String> {
    let mut words = argv.to_vec();
    // A chain is short; the bound keeps a pathological line from looping.
    for _ in 0..8 {
        match unwrap_one(&words) {
            Some(rest) if !rest.is_empty() => words = rest,
            _ => break,
        }
    }
    words
}

/// The command one wrapper runs, or None when `argv` does not start with one (or its options
/// cannot be read).
fn unwrap_one(argv: &[String]) -> Option<Vec<String>> {
    let first = argv.first()?;
    let name = first.rsplit('/').next().unwrap_or(first);
    let rest = &argv[1..];
    let skip = match name {
        "env" => env(rest)?,
        // `nice -5 cmd` is an option too.
        "nice" => options(rest, &["-n", "--adjustment"])?,
        "taskset" => {
            let n = options(rest, &[])?;
            // `-p` works on a running pid, not a command.
            if rest[..n]
                .iter()
                .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains('p'))
                || rest[..n].iter().any(|w| w == "--pid")
            {
                return None;
            }
            n + 1 // the mask or list
        }
        "numactl" => options(
            rest,
            &[
                "-C",
                "-N",
                "-m",
                "-i",
                "-p",
                "--physcpubind",
                "--cpunodebind",
                "--membind",
                "--interleave",
                "--preferred",
            ],
        )?,
        "timeout" => options(rest, &["-s", "-k", "--signal", "--kill-after"])? + 1,
        "chrt" => {
            let n = options(rest, &[])?;
            if rest[..n].iter().any(|w| w == "-p" || w == "--pid") {
                return None;
            }
            n + 1 // the priority
        }
        "ionice" => {
            let n = options(rest, &["-c", "-n", "--class", "--classdata"])?;
            if rest[..n]
                .iter()
                .any(|w| w == "-p" || w == "--pid" || w == "-P" || w == "-u")
            {
                return None;
            }
            n
        }
        "stdbuf" => options(rest, &["-i", "-o", "-e", "--input", "--output", "--error"])?,
        "setarch" => 1 + options(rest.get(1..)?, &[])?,
        "sh" | "dash" | "bash" | "zsh" => return shell(rest),
        _ => return None,
    };
    Some(rest.get(skip..)?.to_vec())
}

/// How many words of `rest` are options: `--` ends them; `with_value` take the next word
/// (unless written `--opt=value` or `-ovalue`).
fn options(rest: &[String], with_value: &[&str]) -> Option<usize> {
    let mut i = 0;
    while let Some(w) = rest.get(i) {
        if w == "--" {
            return Some(i + 1);
        }
        if !w.starts_with('-') || w == "-" {
            return Some(i);
        }
        i += 1;
        if with_value.contains(&w.as_str()) {
            rest.get(i)?;
            i += 1;
        }
    }
    // Options and nothing to run.
    None
}

/// `env [-i] [-u NAME] [-C DIR] [NAME=VALUE]... COMMAND`; `-S` splits a string, which is left
/// alone.
fn env(rest: &[String]) -> Option<usize> {
    let mut i = options(rest, &["-u", "--unset", "-C", "--chdir"])?;
    if rest[..i]
        .iter()
        .any(|w| w.starts_with("-S") || w.starts_with("--split-string"))
    {
        return None;
    }
    while rest
        .get(i)
        .is_some_and(|w| w.contains('=') && !w.starts_with('='))
    {
        i += 1;
    }
    Some(i)
}

/// `sh -c 'exec prog args'` or `sh -c 'prog args'` (a shell execs a lone simple command): its
/// words, when the string is one simple command with no shell syntax beyond quoting.
fn shell(rest: &[String]) -> Option<Vec<String>> {
    let [flag, script, ..] = rest else {
        return None;
    };
    if flag != "-c"
        || script.contains([';', '&', '|', '<', '>', '(', ')', '$', '`', '\n', '*', '?'])
    {
        return None;
    }
    let mut words = perflab_exec::split_words(script).ok()?;
    if words.first().is_some_and(|w| w == "exec") {
        words.remove(0);
    }
    // `sh -c 'A=1 prog'` sets a variable for prog, as env does.
    while words
        .first()
        .is_some_and(|w| w.contains('=') && !w.starts_with('='))
    {
        words.remove(0);
    }
    (!words.is_empty()).then_some(words)
}

#[cfg(test)]
mod tests {
    use super::through_wrappers;

    fn run(line: &[&str]) -> Vec<String> {
        let argv: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        through_wrappers(&argv)
    }

    #[test]
    fn wrappers_are_looked_through_to_the_program() {
        assert_eq!(run(&["./server", "-p", "8080"]), ["./server", "-p", "8080"]);
        assert_eq!(
            run(&["taskset", "-c", "1", "./server", "-x"]),
            ["./server", "-x"]
        );
        assert_eq!(run(&["taskset", "0x3", "./server"]), ["./server"]);
        assert_eq!(
            run(&["/usr/bin/env", "A=1", "B=2", "python3", "x.py"]),
            ["python3", "x.py"]
        );
        assert_eq!(run(&["env", "-u", "HOME", "-i", "./p"]), ["./p"]);
        assert_eq!(run(&["nice", "-n", "5", "./p"]), ["./p"]);
        assert_eq!(run(&["nice", "-5", "./p"]), ["./p"]);
        assert_eq!(
            run(&["numactl", "--cpunodebind=0", "-m", "0", "./p", "a"]),
            ["./p", "a"]
        );
        assert_eq!(run(&["timeout", "-s", "INT", "30s", "./p"]), ["./p"]);
        assert_eq!(run(&["chrt", "-f", "50", "./p"]), ["./p"]);
        assert_eq!(run(&["stdbuf", "-oL", "./p"]), ["./p"]);
        assert_eq!(run(&["setarch", "x86_64", "-R", "./p"]), ["./p"]);
        assert_eq!(run(&["sh", "-c", "exec ./p 'a b'"]), ["./p", "a b"]);
        assert_eq!(run(&["bash", "-c", "GOGC=off ./p"]), ["./p"]);
        // Chains, and `--`.
        assert_eq!(run(&["env", "nice", "taskset", "-c", "0", "./p"]), ["./p"]);
        assert_eq!(run(&["env", "--", "./p"]), ["./p"]);
    }

    #[test]
    fn what_cannot_be_read_stays_the_program() {
        // A pid, not a command; shell syntax; nothing to run; env -S.
        assert_eq!(run(&["taskset", "-p", "1234"]), ["taskset", "-p", "1234"]);
        assert_eq!(run(&["sh", "-c", "./a; ./b"]), ["sh", "-c", "./a; ./b"]);
        assert_eq!(run(&["sh", "-c", "./a | ./b"])[0], "sh");
        assert_eq!(run(&["sh", "script.sh"])[0], "sh");
        assert_eq!(run(&["env"]), ["env"]);
        assert_eq!(run(&["env", "A=1"]), ["env", "A=1"]);
        assert_eq!(run(&["nice", "-n"]), ["nice", "-n"]);
        assert_eq!(run(&["env", "-S", "python3 -u", "x.py"])[0], "env");
        assert_eq!(run(&["timeout", "5s"]), ["timeout", "5s"]);
    }
}

#!/usr/bin/env bash
# Append a perflab result document to `runs.jsonl` on BRANCH of the origin remote (created when
# missing), as github-action-benchmark keeps its data branch: the history of main without a
# server. `perflab import --history runs.jsonl` reads it into a store, from which `perflab report
# --format html` draws trend charts.
#
#   ci/history-branch.sh BRANCH RESULT.json
#
# Run in a clone whose origin accepts pushes (in Actions: `permissions: contents: write`).
set -euo pipefail
branch=$1
result=$2
line=$(jq -c . "$result") # one line, and a check that it is JSON
top=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$top" worktree remove --force "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
who=(-c user.name=perflab -c user.email=perflab@users.noreply.github.com)
for attempt in 1 2 3; do
  git -C "$top" worktree remove --force "$work" >/dev/null 2>&1 || true
  rm -rf "$work"
  if git -C "$top" fetch -q origin "refs/heads/$branch" 2>/dev/null; then
    git -C "$top" worktree add -q --detach "$work" FETCH_HEAD
  else
    # The first record: an orphan branch with nothing but the data.
    git -C "$top" worktree add -q --detach "$work"
    git -C "$work" checkout -q --orphan "perflab-history-$$"
    git -C "$work" rm -rfq . >/dev/null 2>&1 || true
  fi
  printf '%s\n' "$line" >> "$work/runs.jsonl"
  git -C "$work" add runs.jsonl
  commit=$(jq -r '.git.commit // "a run"' <<< "$line")
  git -C "$work" "${who[@]}" commit -qm "perflab: record $commit"
  if git -C "$work" push -q origin "HEAD:refs/heads/$branch" 2>/dev/null; then
    echo "perflab: recorded $commit on $branch ($(wc -l < "$work/runs.jsonl") runs)"
    exit 0
  fi
  # Another job pushed first: take its branch and append again.
  echo "perflab: $branch moved (attempt $attempt); trying again" >&2
  sleep "$attempt"
done
echo "perflab: could not push to $branch" >&2
exit 1

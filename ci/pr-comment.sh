#!/usr/bin/env bash
# Post FILE as the pull request's perflab comment, or update the one posted before: perflab's
# comments start with the marker line `<!-- perflab -->`. Needs GITHUB_TOKEN, GITHUB_REPOSITORY,
# PR_NUMBER; GITHUB_API_URL is the runner's (https://api.github.com by default). curl and jq.
#
# Commenting never decides a job: when the API refuses (a fork's pull request gets a read-only
# token: 403) or cannot be reached, the comment goes to the step summary instead, a warning says
# how to post it (docs/ci.md: the pull_request + workflow_run split), and the script exits 0.
set -uo pipefail
file=$1
api=${GITHUB_API_URL:-https://api.github.com}
marker='<!-- perflab -->'
auth=(-H "Authorization: Bearer ${GITHUB_TOKEN:-}" -H "Accept: application/vnd.github+json")
answer=$(mktemp)
trap 'rm -f "$answer"' EXIT

# The comment could not be posted: keep it where a reader and a later workflow find it.
fallback() {
  echo "perflab: could not post the comment ($1); it is in the step summary"
  if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    { echo; echo "### The pull-request comment perflab could not post"; echo; cat "$file"; echo; } >> "$GITHUB_STEP_SUMMARY"
  fi
  echo "::warning title=perflab comment::$1: the comparison is in the job summary. A pull request from a fork gets a read-only token; docs/ci.md shows the workflow_run job that posts its comment."
  exit 0
}

# call METHOD URL [BODY]: the answer in $answer, the HTTP status on stdout ("000" unreachable).
call() {
  local args=(-sS -o "$answer" -w '%{http_code}' -X "$1" "${auth[@]}")
  [ $# -ge 3 ] && args+=(-d "$3")
  curl "${args[@]}" "$2" 2>/dev/null || true
}

body=$(jq -Rs '{body: .}' < "$file") || fallback "the comment file cannot be read"
existing=""
page=1
while :; do
  status=$(call GET "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100&page=$page")
  case $status in 2??) ;; *) fallback "listing the comments answered ${status/#000/no connection}" ;; esac
  existing=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty' < "$answer")
  [ -n "$existing" ] && break
  [ "$(jq length < "$answer")" -lt 100 ] && break
  page=$((page + 1))
done
if [ -n "$existing" ]; then
  status=$(call PATCH "$api/repos/$GITHUB_REPOSITORY/issues/comments/$existing" "$body")
  case $status in 2??) echo "perflab: updated comment $existing" ;; *) fallback "updating comment $existing answered ${status/#000/no connection}" ;; esac
else
  status=$(call POST "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" "$body")
  case $status in 2??) echo "perflab: posted a comment" ;; *) fallback "posting answered ${status/#000/no connection}" ;; esac
fi

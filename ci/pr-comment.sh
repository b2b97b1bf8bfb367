#!/usr/bin/env bash
# Post FILE as the pull request's perflab comment, or update the one posted before: perflab's
# comments start with the marker line `<!-- perflab -->`. Needs GITHUB_TOKEN, GITHUB_REPOSITORY,
# PR_NUMBER; GITHUB_API_URL is the runner's (https://api.github.com by default). curl and jq.
set -euo pipefail
file=$1
api=${GITHUB_API_URL:-https://api.github.com}
marker='<!-- perflab -->'
auth=(-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json")
body=$(jq -Rs '{body: .}' < "$file")
existing=""
page=1
while :; do
  comments=$(curl -fsS "${auth[@]}" "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100&page=$page")
  existing=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty' <<< "$comments")
  [ -n "$existing" ] && break
  [ "$(jq length <<< "$comments")" -lt 100 ] && break
  page=$((page + 1))
done
if [ -n "$existing" ]; then
  curl -fsS -o /dev/null -X PATCH "${auth[@]}" -d "$body" "$api/repos/$GITHUB_REPOSITORY/issues/comments/$existing"
  echo "perflab: updated comment $existing"
else
  curl -fsS -o /dev/null -X POST "${auth[@]}" -d "$body" "$api/repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments"
  echo "perflab: posted a comment"
fi

#!/bin/sh
# Sends a notification to one user, the way an application backend would: through the hub's server API,
# with the API key, as a stored `notification` event in the user's private room `user-USER`.
#
#   examples/notifications/notify.sh USER TEXT [BODY]
#   examples/notifications/notify.sh bob "Your export is ready" "orders-2026-11.csv can be downloaded for 7 days."
#
# TEXT is the notification's title, BODY (optional) its longer text. Environment:
#   MOONWIRE_URL      the hub (default http://127.0.0.1:8080)
#   MOONWIRE_API_KEY  the server API key (default demo-key, the key in examples/notifications/moonwire.toml)
set -eu

if [ $# -lt 2 ] || [ -z "$1" ] || [ -z "$2" ]; then
  echo "usage: $0 USER TEXT [BODY]" >&2
  exit 2
fi

hub=${MOONWIRE_URL:-http://127.0.0.1:8080}
key=${MOONWIRE_API_KEY:-demo-key}
user=$1
title=$2
body=${3:-}

# A JSON string: backslashes, quotes, tabs and newlines escaped; other control characters dropped.
json_string() {
  printf '%s' "$1" | tr -d '\000-\010\013-\037' \
    | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' \
    | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }'
}

payload=$(printf '{"room":"user-%s","event_type":"notification","data":{"title":"%s","body":"%s"}}' \
  "$(json_string "$user")" "$(json_string "$title")" "$(json_string "$body")")

response=$(curl --silent --show-error --write-out '\n%{http_code}' \
  -X POST "$hub/api/publish" \
  -H "Authorization: Bearer $key" \
  -H 'Content-Type: application/json' \
  --data-binary "$payload") || { echo "notify.sh: could not reach the hub at $hub" >&2; exit 1; }
status=$(printf '%s\n' "$response" | tail -n 1)
answer=$(printf '%s\n' "$response" | sed '$d')
if [ "$status" != 200 ]; then
  echo "notify.sh: the hub answered $status: $answer" >&2
  exit 1
fi
echo "$answer"

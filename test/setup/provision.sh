#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing (idempotent).
# Real peers: systemd-journal-remote writes real journal files, kcat reads Kafka back.
# The JVM peers (Kafka, Elasticsearch, OpenSearch) are fetched from Maven Central by
# `npm run peers -- up ...` when a test first needs them, and cached.
set -euo pipefail
need=()
[ -x /usr/lib/systemd/systemd-journal-remote ] || need+=(systemd-journal-remote)
command -v journalctl >/dev/null && command -v systemd-analyze >/dev/null || need+=(systemd)
command -v kcat >/dev/null || need+=(kcat)
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need+=(rsyslog-gnutls)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "provision: missing Debian packages: ${need[*]} (run as root or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "provision: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Installs what mediabot needs on a Debian/Ubuntu machine that has only the Rust toolchain:
# - cmake: the `opus` crate builds its bundled libopus 1.6.1 with CMake (libopus-dev does not help);
# - ffmpeg, tcpdump, tshark, sox, espeak-ng, GStreamer: the real tools that record and
#   cross-check the RTP fixtures (tests use sox and python3 to check outputs independently).
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v python3 >/dev/null || need+=(python3)
if [ "${MEDIABOT_SETUP_MINIMAL:-0}" != 1 ]; then
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v tshark >/dev/null || need+=(tshark)
  command -v sox >/dev/null || need+=(sox)
  command -v espeak-ng >/dev/null || need+=(espeak-ng)
  command -v gst-launch-1.0 >/dev/null || need+=(gstreamer1.0-tools gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

#!/usr/bin/env bash
# The main job for now: replay a recorded two-speaker Teams-style capture through the real receive
# pipeline and write one WAV per speaker plus a JSON summary to out/replay/.
# (When the simulator lands, this becomes `mediabot demo`.)
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIABOT_SETUP_MINIMAL=1 bash scripts/setup.sh
cargo run --release --locked -p mediabot -- replay fixtures/two_sources_440_880_ffmpeg.pcap --out out/replay "$@"

#!/usr/bin/env bash
# The main job: the Graph + Teams simulator and the bot in one process, on loopback. The bot joins
# the default meeting by its join URL (real HTTP, signed JWT callbacks, DTLS-SRTP media), shows who
# is speaking, hangs up after --seconds (default 15) and writes a WAV per participant, mixed.wav
# and report.json to out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIABOT_SETUP_MINIMAL=1 bash scripts/setup.sh
cargo run --release --locked -p mediabot -- demo --out out/demo "$@"

#!/usr/bin/env bash
# Generate Prompts/<lang>/<name>.wav (8 kHz, 16-bit, mono PCM) from Prompts/<lang>/<name>.txt
# with espeak-ng + sox.
#
# Usage: scripts/make-prompts.sh [--force]
#
# Idempotent: a prompt is regenerated only when its source changed. "Changed" is decided by a
# hash of (text, voice, pipeline version) kept in Prompts/SOURCES.sha256, not by mtimes,
# because a git checkout gives every file the same arbitrary mtime.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prompts="${PROMPTS_DIR:-$here/../Prompts}"
prompts=$(cd "$prompts" && pwd)
manifest="$prompts/SOURCES.sha256"

force=0
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

for tool in espeak-ng sox sha256sum; do
  command -v "$tool" >/dev/null || { echo "make-prompts: '$tool' not found (apt-get install espeak-ng sox)" >&2; exit 1; }
done

# Bump when the pipeline below changes, so every prompt is regenerated once.
pipeline="v2 espeak-ng -s 160 | sox -D -v 0.8 -r 8000 -c 1 -b 16 -e signed-integer"

voice_for() {
  case "$1" in
    # Plain "cmn" reads Latin text (and digits after it) as English/pinyin tone digits;
    # "cmn-latn-pinyin" reads Han characters correctly. Texts spell digits as 一二三四五.
    zh-CN) echo cmn-latn-pinyin ;;
    en-US) echo en-us ;;
    music) return 1 ;;   # Prompts/music: made below, not spoken
    *) return 1 ;;
  esac
}

touch "$manifest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$manifest" "$tmp/manifest.old"
: > "$tmp/manifest.new"

made=0 kept=0
for dir in "$prompts"/*/; do
  lang=$(basename "$dir")
  [ "$lang" = music ] && continue
  voice=$(voice_for "$lang") || { echo "make-prompts: skipping $lang (no voice configured)" >&2; continue; }
  for txt in "$dir"*.txt; do
    [ -e "$txt" ] || continue
    name=$(basename "$txt" .txt)
    rel="$lang/$name.wav"
    wav="$dir$name.wav"
    hash=$( { printf '%s\n%s\n' "$pipeline" "$voice"; cat "$txt"; } | sha256sum | cut -d' ' -f1)
    old=$(awk -v r="$rel" '$2 == r { print $1 }' "$tmp/manifest.old")
    if [ "$force" = 0 ] && [ -s "$wav" ] && [ "$old" = "$hash" ]; then
      kept=$((kept + 1))
    else
      espeak-ng -v "$voice" -s 160 -w "$tmp/raw.wav" -f "$txt"
      # Lower the gain before resampling so the resampler cannot clip; -D (no dither) keeps the
      # output byte-identical between runs, so regenerated files do not churn in git.
      sox -D -v 0.8 "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmp/out.wav"
      mv "$tmp/out.wav" "$wav"
      echo "made $rel"
      made=$((made + 1))
    fi
    printf '%s  %s\n' "$hash" "$rel" >> "$tmp/manifest.new"
  done
done

# Music on hold (Prompts/music/hold.wav, language-independent): a calm plucked arpeggio made by
# sox, 16 s, which the daemon loops for a held party. -D keeps it byte-identical between runs.
music="$prompts/music/hold.wav"
if [ "$force" = 1 ] || [ ! -s "$music" ]; then
  mkdir -p "$prompts/music"
  notes=()
  i=0
  for note in C4 E4 G4 C5 A3 C4 E4 A4 F3 A3 C4 F4 G3 B3 D4 G4 C4 E4 G4 C5 A3 C4 E4 A4 F3 A3 C4 F4 G3 B3 D4 G4; do
    sox -D -n -r 8000 -c 1 -b 16 -e signed-integer "$tmp/note$i.wav" synth 0.5 pluck "$note" vol 0.35 fade 0 0.5 0.1
    notes+=("$tmp/note$i.wav")
    i=$((i + 1))
  done
  sox -D "${notes[@]}" "$music"
  echo "made music/hold.wav"
fi

sort -k2 "$tmp/manifest.new" > "$manifest"
echo "make-prompts: $made generated, $kept up to date"

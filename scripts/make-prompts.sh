#!/usr/bin/env bash
# Generate the hotline's prompts from Prompts/<lang>/<name>.txt with espeak-ng + sox, as
# 8 kHz, 16-bit, mono PCM WAVs, in two variants from the same text:
#   Prompts/<lang>/<name>.wav          normal  (espeak-ng -s 160, sox -v 0.8)
#   Prompts/<lang>/elderly/<name>.wav  elderly (slower: -s 120, en-US also -g 3; louder:
#                                      normalised to a -1 dBFS peak); the daemon plays it
#                                      first when the call's voice is `elderly`
# and the music on hold Prompts/music/hold.wav. Texts may switch voice with SSML
# (<voice name="en-us">...</voice>); espeak-ng runs with -m.
#
# Usage: scripts/make-prompts.sh [--force]
#
# Idempotent: a prompt is regenerated only when its source changed. "Changed" is decided by a
# hash of (text, voice, pipeline version, variant) kept in Prompts/SOURCES.sha256, not by
# mtimes, because a git checkout gives every file the same arbitrary mtime.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prompts="${PROMPTS_DIR:-$here/../Prompts}"
prompts=$(cd "$prompts" && pwd)
manifest="$prompts/SOURCES.sha256"

force=0
for arg in "$@"; do
  case "$arg" in
    --force|-f) force=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

for tool in espeak-ng sox sha256sum; do
  command -v "$tool" >/dev/null || { echo "make-prompts: '$tool' not found (apt-get install espeak-ng sox)" >&2; exit 1; }
done

# Bump when the pipeline below changes, so every prompt is regenerated once.
pipeline="v3 espeak-ng -m | sox -D -r 8000 -c 1 -b 16 -e signed-integer"

voice_for() {
  case "$1" in
    # Plain "cmn" reads Latin text (and digits after it) as English/pinyin tone digits;
    # "cmn-latn-pinyin" reads Han characters correctly. Texts spell digits as 一二三四五
    # (and 幺 for a 1 in a phone number: 幺幺零).
    zh-CN) echo cmn-latn-pinyin ;;
    en-US) echo en-us ;;
    *) return 1 ;;   # music (made below, not spoken), elderly (a variant folder), unknown
  esac
}

# Per variant: the espeak-ng options and the sox effects. The variant is part of the hash.
#   normal:  -s 160; -v 0.8 lowers the gain before resampling so the resampler cannot clip.
#   elderly: -s 120 (slower); in English also -g 3 (30 ms more between words; Mandarin is not
#            given it: espeak-ng treats every syllable as a word there, so it would chop words
#            apart); "gain -n -1" normalises the peak to -1 dBFS (louder), after the same
#            -v 0.8 headroom for the resampler as the normal variant. The explicit
#            "rate 8000" goes first: sox would otherwise append its own rate effect after the
#            gain, and the resampler would move the peak away from -1 dBFS again.
espeak_opts() {   # variant lang
  case "$1" in
    normal) echo "-s 160" ;;
    elderly) if [ "$2" = en-US ]; then echo "-s 120 -g 3"; else echo "-s 120"; fi ;;
  esac
}
sox_opts() {      # variant -> "input options|effects"
  case "$1" in
    normal) echo "-v 0.8|" ;;
    elderly) echo "-v 0.8|rate 8000 gain -n -1" ;;
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
  case "$lang" in music|elderly) continue ;; esac
  voice=$(voice_for "$lang") || { echo "make-prompts: skipping $lang (no voice configured)" >&2; continue; }
  for txt in "$dir"*.txt; do
    [ -e "$txt" ] || continue
    name=$(basename "$txt" .txt)
    for variant in normal elderly; do
      if [ "$variant" = normal ]; then rel="$lang/$name.wav"; else rel="$lang/$variant/$name.wav"; fi
      wav="$prompts/$rel"
      eopts=$(espeak_opts "$variant" "$lang")
      sopts=$(sox_opts "$variant")
      sin=${sopts%%|*} sfx=${sopts#*|}
      hash=$( { printf '%s\n%s\n%s\n' "$pipeline" "$voice" "$variant: espeak-ng $eopts | sox $sin .. $sfx"; cat "$txt"; } | sha256sum | cut -d' ' -f1)
      old=$(awk -v r="$rel" '$2 == r { print $1 }' "$tmp/manifest.old")
      if [ "$force" = 0 ] && [ -s "$wav" ] && [ "$old" = "$hash" ]; then
        kept=$((kept + 1))
      else
        mkdir -p "$(dirname "$wav")"
        # shellcheck disable=SC2086  # the option strings are meant to split
        espeak-ng -m -v "$voice" $eopts -w "$tmp/raw.wav" -f "$txt"
        # -D (no dither) keeps the output byte-identical between runs, so regenerated files do
        # not churn in git.
        # shellcheck disable=SC2086
        sox -D $sin "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$tmp/out.wav" $sfx
        mv "$tmp/out.wav" "$wav"
        echo "made $rel"
        made=$((made + 1))
      fi
      printf '%s  %s\n' "$hash" "$rel" >> "$tmp/manifest.new"
    done
  done
  # Elderly variants whose text is gone: remove them (the normal WAV is the author's to delete).
  for wav in "$dir"elderly/*.wav; do
    [ -e "$wav" ] || continue
    [ -e "$dir$(basename "$wav" .wav).txt" ] || { rm -f "$wav"; echo "removed $lang/elderly/$(basename "$wav")"; }
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

LC_ALL=C sort -k2 "$tmp/manifest.new" > "$manifest"   # C collation: the same order on every machine
echo "make-prompts: $made generated, $kept up to date"

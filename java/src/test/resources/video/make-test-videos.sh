#!/bin/sh
# Regenerates the small test videos in this folder (run once; the files are committed).
# Needs Debian's ffmpeg (apt-get install ffmpeg) and /usr/bin/python3 with numpy.
# The frames follow the formula in dev.comix.video.TestVideos.pattern(): 64x48, 24 frames,
# R = 4x, G = 5y, B = 128, and a 12x12 white square at x = 2t, y = 18.
set -e
cd "$(dirname "$0")"
raw=$(mktemp)
/usr/bin/python3 - "$raw" <<'PY'
import sys, numpy as np
w, h, n = 64, 48, 24
out = open(sys.argv[1], "wb")
for t in range(n):
    f = np.zeros((h, w, 3), np.uint8)
    f[:, :, 0] = (np.arange(w) * 4)[None, :]
    f[:, :, 1] = (np.arange(h) * 5)[:, None]
    f[:, :, 2] = 128
    f[18:30, 2 * t:2 * t + 12] = 255
    out.write(f.tobytes())
PY
in="-v error -y -f rawvideo -pix_fmt rgb24 -s 64x48 -r 10 -i $raw"
ffmpeg $in -c:v mpeg4 -vtag XVID -q:v 2 -bitexact xvid.avi
ffmpeg $in -c:v msmpeg4 -q:v 2 -bitexact divx3.avi
ffmpeg $in -c:v cinepak -bitexact cinepak.avi
ffmpeg $in -c:v mjpeg -q:v 2 -pix_fmt yuvj420p -bitexact mjpg.avi
ffmpeg $in -c:v libx264 -crf 12 -pix_fmt yuv420p -movflags +faststart -bitexact h264.mp4
# Every third frame kept with its timestamp: the AVI muxer fills the gaps with zero-size
# "repeat the previous frame" chunks (the header counts 22 frames, 8 decode).
ffmpeg $in -vf "select='not(mod(n\,3))'" -fps_mode passthrough -c:v mpeg4 -vtag XVID -q:v 2 -bitexact gaps.avi
rm -f "$raw"

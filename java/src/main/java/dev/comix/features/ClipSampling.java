package dev.comix.features;

/**
 * CoMix's clip sampling (COMIX-SPEC §2.1–2.2), test-time variant: a video of T frames is first
 * lengthened to T' = T·r frames with r = ceil(72 / T) when T &lt; 72 (each frame repeated r times in
 * place, {@code repeat_interleave}), else r = 1; the M = T' / 4 − 2 candidate clips start at 4i
 * (i = 0 … M−1) and cover 8 consecutive frames; 0 … M−1 is split into 16 contiguous groups as
 * numpy's {@code array_split} does (the first M mod 16 groups one longer) and the first candidate
 * of each group is taken.
 */
public final class ClipSampling {
  public static final int CLIPS = 16, CLIP_LENGTH = 8, FREQUENCY = 4, MIN_FRAMES = 72;

  private ClipSampling() {}

  /** The repetition factor r for a video of {@code frames} frames. */
  public static int repeat(int frames) {
    if (frames <= 0) throw new IllegalArgumentException("a video needs at least one frame, got " + frames);
    return frames < MIN_FRAMES ? (MIN_FRAMES + frames - 1) / frames : 1;
  }

  /** The 16 test-time clip starts, in the (repeated) frame sequence: the first index of each array_split group. */
  public static int[] testStarts(int frames) {
    int m = frames * repeat(frames) / FREQUENCY - 2;
    int[] starts = new int[CLIPS];
    int base = m / CLIPS, extra = m % CLIPS, at = 0;
    for (int g = 0; g < CLIPS; g++) {
      starts[g] = at;
      at += base + (g < extra ? 1 : 0);
    }
    return starts;
  }

  /** [16][8] indices into the <b>original</b> frames (0 … frames−1) of the test-time clips. */
  public static int[][] testFrameIndices(int frames) {
    int r = repeat(frames);
    int[] starts = testStarts(frames);
    int[][] idx = new int[CLIPS][CLIP_LENGTH];
    for (int c = 0; c < CLIPS; c++)
      for (int j = 0; j < CLIP_LENGTH; j++) idx[c][j] = (FREQUENCY * starts[c] + j) / r;
    return idx;
  }
}

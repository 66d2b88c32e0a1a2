/**
 * Per-video I3D clip features: {@link dev.comix.features.ClipSampling} (CoMix's test-time
 * 16 clips × 8 frames, COMIX-SPEC §2.1–2.2) and {@link dev.comix.features.FeatureExtractor}
 * (frames → [−1, 1] clips → {@link dev.comix.nn.InceptionI3d} in eval mode → one
 * {@code <video>.npy} float32 [16, F] per video), behind {@code comix extract-features}.
 *
 * <p>Measured on the 2-core AMD EPYC dev box (oneDNN, width 1, random weights): one 8×224² clip
 * forward ≈ 0.2 s (batch 1) / 0.18–0.28 s per clip at batch 16; a training forward + backward of
 * 2 clips ≈ 0.35 s + 0.85 s; extract-features ≈ 2.1 s per video (16 clips), peak RSS 2.5 GB.
 */
package dev.comix.features;

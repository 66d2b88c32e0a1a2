package dev.comix.features;

import dev.comix.io.Npy;
import dev.comix.nn.Floats;
import dev.comix.nn.InceptionI3d;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.nn.gpu.GpuContext;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.Device;
import dev.comix.runtime.Tensor;
import dev.comix.video.BackgroundExtractor;
import dev.comix.video.FrameSource;
import dev.comix.video.FrameSources;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Per-video I3D clip features for CoMix's test-time sampling: all frames of the video are read and
 * resized to 224×224 ({@link FrameSources}: OpenCV INTER_AREA / INTER_CUBIC, not PIL's Lanczos of
 * the original, so values differ slightly), mapped to [−1, 1] by x·2/255 − 1, the 16 clips of 8
 * frames of {@link ClipSampling#testFrameIndices} are run through the I3D in eval mode
 * {@code batch} clips at a time (eval BN makes clips independent, so the batch size does not change
 * the result), and the features are written as {@code <output>/<video>.npy}, float32 [16, F]
 * (F = 1024 at width 1), atomically (temp file, rename). An existing output whose header reads as a
 * [16, F] float32 array is skipped, so a rerun after a kill resumes.
 *
 * <p>On a CUDA device ({@code --device cuda}) the same model runs on cuDNN (NDHWC, TF32 by default
 * as PyTorch's cuDNN convolutions, or f32 / bf16).
 *
 * <p>Every frame of a video is held in memory (224·224·3 bytes each) because a video file's frame
 * count is only known after decoding it.
 */
public final class FeatureExtractor {
  public static final int SIZE = 224;

  public enum Outcome { DONE, SKIPPED }

  private final InceptionI3d model;
  private final int batch;
  private final GpuContext gpu; // null: CPU

  public FeatureExtractor(InceptionI3d model, int batch) {
    this(model, batch, Device.CPU, ConvPrecision.F32);
  }

  /** On a CUDA device the model runs on cuDNN at {@code precision}; inputs go up and features come back per batch. */
  public FeatureExtractor(InceptionI3d model, int batch, Device device, ConvPrecision precision) {
    if (batch < 1 || batch > ClipSampling.CLIPS) throw new ComixException("clips per forward must be 1..16, got " + batch);
    this.model = model;
    this.batch = batch;
    this.gpu = device.isCuda() ? GpuContext.of(device) : null;
    if (gpu != null) gpu.setPrecision(precision);
  }

  public Path outputFile(Path outputRoot, BackgroundExtractor.Job job) {
    return outputRoot.resolve(job.name() + ".npy");
  }

  /** Computes and writes one video's features unless they are already there. Throws on failure. */
  public Outcome process(BackgroundExtractor.Job job, Path outputRoot) {
    checkName(job.name());
    Path target = outputFile(outputRoot, job);
    if (isComplete(target)) return Outcome.SKIPPED;
    float[] f = features(job);
    Path tmp = outputRoot.resolve("." + job.name() + ".npy.tmp-" + ProcessHandle.current().pid());
    try (Tensor t = Floats.of(f, ClipSampling.CLIPS, model.featureSize())) {
      Npy.write(tmp, t);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new ComixException("cannot write " + target + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort
      }
    }
    return Outcome.DONE;
  }

  /** True when {@code file} holds a float32 [16, F] array (checked by reading it). */
  public boolean isComplete(Path file) {
    if (!Files.isRegularFile(file)) return false;
    try (Tensor t = Npy.read(file)) {
      return Arrays.equals(t.shape(), new long[] {ClipSampling.CLIPS, model.featureSize()})
          && t.dtype() == dev.comix.runtime.DType.F32;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /** The [16·F] features of one video, row-major [16, F]. */
  public float[] features(BackgroundExtractor.Job job) {
    List<byte[]> frames = readFrames(job);
    int[][] idx = ClipSampling.testFrameIndices(frames.size());
    int fs = model.featureSize(), plane = SIZE * SIZE * 3, clipLen = ClipSampling.CLIP_LENGTH;
    float[] out = new float[ClipSampling.CLIPS * fs];
    for (int c0 = 0; c0 < ClipSampling.CLIPS; c0 += batch) {
      int b = Math.min(batch, ClipSampling.CLIPS - c0);
      float[] x = new float[b * clipLen * plane];
      for (int i = 0; i < b; i++)
        for (int j = 0; j < clipLen; j++) {
          byte[] rgb = frames.get(idx[c0 + i][j]);
          int off = (i * clipLen + j) * plane;
          for (int k = 0; k < plane; k++) x[off + k] = (rgb[k] & 0xff) * 2f / 255f - 1f;
        }
      try (Tensor xt = Floats.of(x, b, clipLen, SIZE, SIZE, 3)) {
        if (gpu == null) {
          try (Tensor y = model.forward(xt, false)) {
            System.arraycopy(Floats.read(y), 0, out, c0 * fs, b * fs);
          }
        } else {
          try (Tensor xd = gpu.upload(xt); Tensor yd = model.forward(xd, false); Tensor y = gpu.toHostF32(yd)) {
            System.arraycopy(Floats.read(y), 0, out, c0 * fs, b * fs);
          }
        }
      }
    }
    model.clearSaved();
    return out;
  }

  static List<byte[]> readFrames(BackgroundExtractor.Job job) {
    List<byte[]> frames = new ArrayList<>();
    try (FrameSource src = FrameSources.open(resolveSource(job.source()), SIZE, job.from(), job.to())) {
      while (true) {
        byte[] rgb = new byte[SIZE * SIZE * 3];
        if (!src.next(rgb)) break;
        frames.add(rgb);
      }
    }
    if (frames.isEmpty()) throw new ComixException(job.source() + ": no frames decoded");
    return frames;
  }

  /** A CSV names folders; a video file of that name plus a video extension is accepted too (as extract-backgrounds). */
  static Path resolveSource(Path source) {
    return BackgroundExtractor.resolveSource(source);
  }

  static void checkName(String name) {
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")
        || name.indexOf('\0') >= 0)
      throw new ComixException("bad video name '" + name + "' for an output file");
  }
}

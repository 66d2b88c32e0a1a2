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
 * the result; {@link #batcher} fills forwards with clips of several videos), and the features are
 * written as {@code <output>/<video>.npy}, float32 [16, F]
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
  /** The most clips one forward may take (a batch spans videos; 256 clips are ~1.2 GB of input). */
  public static final int MAX_BATCH = 256;

  public enum Outcome { DONE, SKIPPED }

  private final InceptionI3d model;
  private final int batch;
  private final GpuContext gpu; // null: CPU

  public FeatureExtractor(InceptionI3d model, int batch) {
    this(model, batch, Device.CPU, ConvPrecision.F32);
  }

  /** On a CUDA device the model runs on cuDNN at {@code precision}; inputs go up and features come back per batch. */
  public FeatureExtractor(InceptionI3d model, int batch, Device device, ConvPrecision precision) {
    if (batch < 1 || batch > MAX_BATCH) throw new ComixException("clips per forward must be 1.." + MAX_BATCH + ", got " + batch);
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
    write(outputRoot, job, features(job));
    return Outcome.DONE;
  }

  /** Writes [16, F] features as {@code <outputRoot>/<name>.npy} atomically (temp file, rename). */
  void write(Path outputRoot, BackgroundExtractor.Job job, float[] f) {
    Path target = outputFile(outputRoot, job);
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
      System.arraycopy(run(x, b), 0, out, c0 * fs, b * fs);
    }
    model.clearSaved();
    return out;
  }

  /** Features [b, F] of b clips given as NDHWC floats (host or GPU model alike). */
  private float[] run(float[] x, int b) {
    try (Tensor xt = Floats.of(x, b, ClipSampling.CLIP_LENGTH, SIZE, SIZE, 3)) {
      if (gpu == null) {
        try (Tensor y = model.forward(xt, false)) {
          return Floats.read(y);
        }
      }
      try (Tensor xd = gpu.upload(xt); Tensor yd = model.forward(xd, false); Tensor y = gpu.toHostF32(yd)) {
        return Floats.read(y);
      }
    }
  }

  /** What a {@link Batcher} reports per video: done (features written), skipped (already there) or failed. */
  public interface Listener {
    void done(BackgroundExtractor.Job job);

    void skipped(BackgroundExtractor.Job job);

    void failed(BackgroundExtractor.Job job, RuntimeException e);
  }

  /** Videos streamed through the model in forwards of {@code batch} clips that may span videos. */
  public Batcher batcher(Path outputRoot, Listener listener) {
    return new Batcher(outputRoot, listener);
  }

  /**
   * Feeds videos' clips into forwards of up to {@code batch} clips regardless of which video they
   * come from (eval-mode BN makes clips independent, so the features do not depend on the batch);
   * a video's features are written, atomically, once all its 16 clips are through. A video that
   * fails to decode fails alone; a forward that fails fails every video with a clip in it (their
   * remaining clips are dropped). {@link #close} runs the last partial batch.
   */
  public final class Batcher implements AutoCloseable {
    private final Path outputRoot;
    private final Listener listener;
    private final int clipFloats = ClipSampling.CLIP_LENGTH * SIZE * SIZE * 3;
    private final float[] buf = new float[batch * clipFloats];
    private final List<Video> slots = new ArrayList<>(); // owner of each clip in buf, in order
    private final List<Integer> slotClip = new ArrayList<>();

    private final class Video {
      final BackgroundExtractor.Job job;
      final float[] features = new float[ClipSampling.CLIPS * model.featureSize()];
      int remaining = ClipSampling.CLIPS;
      boolean failed;

      Video(BackgroundExtractor.Job job) {
        this.job = job;
      }
    }

    private Batcher(Path outputRoot, Listener listener) {
      this.outputRoot = outputRoot;
      this.listener = listener;
    }

    /** Decodes one video and queues its 16 clips (running forwards as batches fill up). */
    public void add(BackgroundExtractor.Job job) {
      List<byte[]> frames;
      try {
        checkName(job.name());
        if (isComplete(outputFile(outputRoot, job))) {
          listener.skipped(job);
          return;
        }
        frames = readFrames(job);
      } catch (RuntimeException e) {
        listener.failed(job, e);
        return;
      }
      int[][] idx = ClipSampling.testFrameIndices(frames.size());
      int plane = SIZE * SIZE * 3;
      Video v = new Video(job);
      for (int c = 0; c < ClipSampling.CLIPS; c++) {
        int base = slots.size() * clipFloats;
        for (int j = 0; j < ClipSampling.CLIP_LENGTH; j++) {
          byte[] rgb = frames.get(idx[c][j]);
          int off = base + j * plane;
          for (int k = 0; k < plane; k++) buf[off + k] = (rgb[k] & 0xff) * 2f / 255f - 1f;
        }
        slots.add(v);
        slotClip.add(c);
        if (slots.size() == batch) flush();
      }
    }

    /** Runs the queued clips (a partial batch) now. */
    public void flush() {
      int b = slots.size();
      if (b == 0) return;
      List<Video> owners = new ArrayList<>(slots);
      List<Integer> clips = new ArrayList<>(slotClip);
      slots.clear();
      slotClip.clear();
      float[] y;
      try {
        float[] x = b == batch ? buf : Arrays.copyOf(buf, b * clipFloats);
        y = run(x, b);
      } catch (RuntimeException e) {
        for (Video v : owners) {
          if (!v.failed) {
            v.failed = true;
            listener.failed(v.job, e);
          }
        }
        model.clearSaved();
        return;
      }
      int fs = model.featureSize();
      for (int i = 0; i < b; i++) {
        Video v = owners.get(i);
        if (v.failed) continue;
        System.arraycopy(y, i * fs, v.features, clips.get(i) * fs, fs);
        if (--v.remaining == 0) {
          try {
            write(outputRoot, v.job, v.features);
            listener.done(v.job);
          } catch (RuntimeException e) {
            v.failed = true;
            listener.failed(v.job, e);
          }
        }
      }
    }

    @Override
    public void close() {
      flush();
      model.clearSaved();
    }
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

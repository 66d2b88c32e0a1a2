package dev.comix.video;

import dev.comix.runtime.ComixException;
import dev.comix.runtime.DType;
import dev.comix.runtime.Ops;
import dev.comix.runtime.Tensor;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.bytedeco.javacpp.Pointer;

/**
 * Temporal-median background extraction (COMIX-SPEC 3.1) for many videos: each video's frames
 * are decoded, resized and folded into a {@link TemporalMedian} on the given backend, and the
 * median is written to {@code <output>/<video>/0.JPEG} (or {@code 0.png}), the layout the CoMix
 * loader reads.
 *
 * <ul>
 *   <li>Videos run in parallel on a pool of worker threads; each worker decodes one video and
 *       accumulates its median itself, so a video's frames meet one thread only. On a CUDA
 *       backend the shared {@link Ops} (one stream) is used by one worker at a time.
 *   <li>Resumable: a video whose output already exists is skipped. Outputs are written
 *       atomically ({@link ImageFiles#writeAtomic}), so after a kill every existing output is
 *       complete and a rerun gives the same files as an uninterrupted run.
 *   <li>A failing video (missing or empty folder, corrupt frame, truncated file, unwritable
 *       output) is reported through the {@link Listener} and leaves nothing behind; the others go on.
 *   <li>Host memory: the median buffers of the videos in flight are kept within about three
 *       quarters of JavaCPP's off-heap limit ({@code Pointer.maxBytes()}, by default the JVM's
 *       -Xmx); a video that needs more waits until it can run alone.
 * </ul>
 *
 * <pre>{@code
 * try (Ops ops = Backends.open("auto", 0)) {
 *   BackgroundExtractor ex = new BackgroundExtractor(ops, 224, -1, ImageFiles.Format.JPEG, 4);
 *   Summary s = ex.run(List.of(Job.of("vtest", Path.of("vtest.avi"))), Path.of("bg"), new Listener() {});
 * }
 * }</pre>
 */
public final class BackgroundExtractor {
  /**
   * One video: its output folder name, where its frames are (a folder of frames or a video
   * file), and the frame range {@code [from, to)} ({@code to < 0}: to the end).
   */
  public record Job(String name, Path source, long from, long to) {
    public Job {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(source, "source");
    }

    /** All frames of {@code source}. */
    public static Job of(String name, Path source) {
      return new Job(name, source, 0, -1);
    }
  }

  public enum Outcome { DONE, SKIPPED, FAILED }

  /** What happened to one video. {@code error} is one line (null unless FAILED). */
  public record Result(Job job, Outcome outcome, long frames, String error, Throwable cause, List<String> warnings) {}

  /** Counts for a whole run. */
  public record Summary(int total, int done, int skipped, int failed, long frames, long nanos) {
    public double seconds() {
      return nanos / 1e9;
    }
  }

  /** Progress callbacks; called from worker threads, so implementations must be thread-safe. */
  public interface Listener {
    /** A video finished (done, skipped or failed). */
    default void finished(Result result) {}

    /** {@code n} more frames were decoded. */
    default void frames(long n) {}
  }

  private static final long MIB = 1L << 20;
  private static final int CHUNK_BYTES = 32 << 20;

  private final Ops ops;
  private final Object opsLock; // the CUDA backend's Ops (one stream) serves one thread at a time
  private final int size;
  private final long frameLimit;
  private final ImageFiles.Format format;
  private final int workers;
  private final Semaphore memory;
  private final int memoryPermits;
  private final Map<Path, List<Path>> listings = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<Path, List<Path>> e) {
      return size() > 8; // Epic: thousands of segments share a few big frame folders
    }
  };

  /**
   * @param ops backend for the median (shared by all workers)
   * @param size output side (frames are resized to size x size), 0 = native size
   * @param frameLimit use at most this many frames per video ({@code <= 0}: all)
   * @param format JPEG ({@code 0.JPEG}) or PNG ({@code 0.png})
   * @param workers videos processed in parallel (>= 1)
   */
  public BackgroundExtractor(Ops ops, int size, long frameLimit, ImageFiles.Format format, int workers) {
    FrameSources.checkSize(size);
    if (workers < 1) throw new ComixException("workers must be >= 1, got " + workers);
    this.ops = Objects.requireNonNull(ops, "ops");
    this.opsLock = ops.device().isCuda() ? ops : null;
    this.size = size;
    this.frameLimit = frameLimit;
    this.format = Objects.requireNonNull(format, "format");
    this.workers = workers;
    long max = Pointer.maxBytes();
    long budget = max > 0 ? Math.max(256 * MIB, max / 4 * 3) : Long.MAX_VALUE;
    this.memoryPermits = (int) Math.min(Integer.MAX_VALUE / 2, budget / MIB);
    this.memory = new Semaphore(memoryPermits);
  }

  /** The output file of a video under {@code outputRoot}. */
  public Path outputFile(Path outputRoot, Job job) {
    return outputRoot.resolve(job.name()).resolve(format.backgroundName);
  }

  /**
   * Processes all jobs and blocks until they are done; never throws for a single video's
   * failure. Decoding and the median run on {@code workers} threads; the encoded images are
   * written (fsync, rename, folder fsync) by a separate small pool, so the workers do not wait
   * on the disk.
   */
  public Summary run(List<Job> jobs, Path outputRoot, Listener listener) {
    long t0 = System.nanoTime();
    int[] counts = new int[3];
    long[] frames = new long[1];
    if (jobs.isEmpty()) return new Summary(0, 0, 0, 0, 0, System.nanoTime() - t0);
    int n = Math.min(workers, jobs.size());
    int ioThreads = Math.max(2, n);
    ExecutorService pool = Executors.newFixedThreadPool(n, threads("comix-extract-"));
    ExecutorService io = Executors.newFixedThreadPool(ioThreads, threads("comix-write-"));
    Semaphore ioSlots = new Semaphore(4 * ioThreads); // bounds the encoded images waiting for the disk
    CountDownLatch left = new CountDownLatch(jobs.size());
    java.util.function.Consumer<Result> finish = r -> {
      try {
        synchronized (counts) {
          counts[r.outcome().ordinal()]++;
          frames[0] += r.frames();
        }
        listener.finished(r);
      } finally {
        left.countDown();
      }
    };
    try {
      for (Job job : jobs) {
        pool.execute(() -> {
          Pending p = prepare(job, outputRoot, listener);
          if (p.result() != null) {
            finish.accept(p.result());
            return;
          }
          ioSlots.acquireUninterruptibly();
          try {
            io.execute(() -> {
              try {
                finish.accept(commit(p));
              } finally {
                ioSlots.release();
              }
            });
          } catch (RuntimeException e) { // rejected: the pool is shutting down
            ioSlots.release();
            finish.accept(failed(job, p.frames(), e, p.warnings()));
          }
        });
      }
      left.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ComixException("interrupted");
    } finally {
      pool.shutdownNow();
      io.shutdown();
    }
    synchronized (counts) {
      return new Summary(jobs.size(), counts[0], counts[1], counts[2], frames[0], System.nanoTime() - t0);
    }
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger no = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + no.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** A video's outcome so far: a final result (skipped or failed), or an encoded image to write. */
  private record Pending(Job job, Path dir, Path target, byte[] encoded, long frames, List<String> warnings, Result result) {}

  /** One video, start to end, on the calling thread: skip if done, else median and atomic write. */
  public Result process(Job job, Path outputRoot, Listener listener) {
    Pending p = prepare(job, outputRoot, listener);
    return p.result() != null ? p.result() : commit(p);
  }

  /** Everything but the write: checks, decoding, the median, the encoding. Never throws. */
  private Pending prepare(Job job, Path outputRoot, Listener listener) {
    Path dir = outputRoot.resolve(job.name());
    Path target = dir.resolve(format.backgroundName);
    long[] frames = new long[1];
    List<String> warnings = new ArrayList<>();
    try {
      checkName(job.name());
      if (Files.isRegularFile(target)) {
        // Ours are written atomically; a half-written file from another tool (the original
        // script killed mid-save) is redone instead of being trusted.
        if (ImageFiles.looksComplete(target))
          return new Pending(job, dir, target, null, 0, List.of(), new Result(job, Outcome.SKIPPED, 0, null, null, List.of()));
        warnings.add("existing " + target + " is incomplete or corrupt; computing it again");
      }
      if (Files.exists(dir) && !Files.isDirectory(dir))
        throw new ComixException("cannot write " + target + ": " + dir + " exists and is not a folder");
      if (Files.isDirectory(target))
        throw new ComixException("cannot write " + target + ": a folder of that name is in the way");
      if (Files.isDirectory(dir) && !Files.isWritable(dir))
        throw new ComixException("cannot write " + target + ": permission denied");
      int[] wh = new int[2];
      byte[] bg = median(job, wh, warnings, k -> {
        frames[0] += k;
        listener.frames(k);
      });
      byte[] encoded = ImageFiles.encode(bg, wh[0], wh[1], format);
      debugDelay();
      return new Pending(job, dir, target, encoded, frames[0], List.copyOf(warnings), null);
    } catch (Throwable e) {
      return new Pending(job, dir, target, null, frames[0], List.of(), failed(job, frames[0], e, warnings));
    }
  }

  /** The atomic write of a prepared image. Never throws. */
  private Result commit(Pending p) {
    try {
      write(p.dir(), p.target(), p.encoded());
      return new Result(p.job(), Outcome.DONE, p.frames(), null, null, p.warnings());
    } catch (Throwable e) {
      return failed(p.job(), p.frames(), e, p.warnings());
    }
  }

  private static Result failed(Job job, long frames, Throwable e, List<String> warnings) {
    String msg;
    if (e instanceof ComixException) msg = e.getMessage();
    else if (e instanceof OutOfMemoryError) msg = "out of memory" + (e.getMessage() == null ? "" : ": " + e.getMessage());
    else msg = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    return new Result(job, Outcome.FAILED, frames, msg, e, List.copyOf(warnings));
  }

  /**
   * The median background of one video as packed RGB; {@code widthHeightOut} receives its size.
   * Source problems are reported through exceptions, decoder work-arounds through {@code warnings}.
   */
  public byte[] median(Job job, int[] widthHeightOut, List<String> warnings, java.util.function.LongConsumer progress) {
    Path source = resolveSource(job.source());
    try (FrameSource src = open(source, job)) {
      int w = src.width(), h = src.height();
      long n = (long) w * h * 3;
      long t = src.frameCountHint();
      if (frameLimit > 0 && (t < 0 || t > frameLimit)) t = frameLimit;
      int permits = estimatePermits(n, t);
      memory.acquireUninterruptibly(permits);
      try {
        byte[] bg = accumulate(src, n, w, h, t, source, progress);
        if (warnings != null) warnings.addAll(src.warnings());
        widthHeightOut[0] = w;
        widthHeightOut[1] = h;
        return bg;
      } finally {
        memory.release(permits);
      }
    }
  }

  private FrameSource open(Path source, Job job) {
    if (Files.isDirectory(source)) {
      List<Path> frames = listing(source);
      int count = frames.size();
      int a = (int) Math.min(job.from(), count);
      int b = job.to() < 0 ? count : (int) Math.min(job.to(), count);
      if (job.from() < 0 || b <= a)
        throw new ComixException("no frames in range [" + job.from() + ", " + job.to() + ") of " + source + " (it has "
            + count + " frames)");
      FrameSources.checkSize(size);
      return new FrameFolderSource(source, frames.subList(a, b), size);
    }
    return FrameSources.open(source, size, job.from(), job.to());
  }

  private List<Path> listing(Path folder) {
    synchronized (listings) {
      List<Path> cached = listings.get(folder);
      if (cached != null) return cached;
    }
    List<Path> frames = List.copyOf(FrameSources.listFrames(folder));
    synchronized (listings) {
      listings.put(folder, frames);
    }
    return frames;
  }

  private byte[] accumulate(FrameSource src, long n, int w, int h, long expectedFrames, Path source,
                            java.util.function.LongConsumer progress) {
    long limit = frameLimit > 0 ? frameLimit : Long.MAX_VALUE;
    int chunkFrames = (int) Math.max(1, Math.min(16, CHUNK_BYTES / n));
    byte[] rgb = new byte[Math.toIntExact(n)];
    TemporalMedian median = locked(() -> new TemporalMedian(ops, h, w, 3));
    if (expectedFrames > 0) locked(() -> {
      median.reserve(expectedFrames); // the decoder's count: no doubling growth when it is right
      return null;
    });
    try (Tensor chunk = Tensor.host(DType.U8, chunkFrames, n)) {
      long count = 0;
      int k = 0;
      while (count < limit && src.next(rgb)) {
        chunk.slice0(k, k + 1).data().put(rgb, 0, rgb.length);
        k++;
        count++;
        if (k == chunkFrames) {
          add(median, chunk, k);
          progress.accept(k);
          k = 0;
        }
      }
      if (k > 0) {
        add(median, chunk, k);
        progress.accept(k);
      }
      if (count == 0) throw new ComixException("no frames decoded from " + source);
      return locked(median::resultBytes);
    } finally {
      locked(() -> {
        median.close();
        return null;
      });
    }
  }

  private void add(TemporalMedian median, Tensor chunk, int k) {
    locked(() -> {
      median.add(chunk.slice0(0, k));
      return null;
    });
  }

  private <T> T locked(Supplier<T> body) {
    if (opsLock == null) return body.get();
    synchronized (opsLock) {
      return body.get();
    }
  }

  /** MiB of host memory the median of a video needs (TemporalMedian's bound; t < 0: unknown). */
  private int estimatePermits(long n, long t) {
    if (opsLock != null) return 0; // device memory, not host: not budgeted here
    long frames = t < 0 || t > TemporalMedian.DEFAULT_BUFFER_FRAMES ? TemporalMedian.DEFAULT_BUFFER_FRAMES : Math.max(16, t);
    long bytes = n * frames + (t < 0 || t > TemporalMedian.DEFAULT_BUFFER_FRAMES ? 512 * n : 0)
        + Math.min(16, Math.max(1, CHUNK_BYTES / n)) * n + 4 * n;
    long mib = (bytes + MIB - 1) / MIB;
    return (int) Math.min(memoryPermits, Math.max(1, mib));
  }

  /** A CSV names folders; a video file of that name plus a video extension is accepted too. */
  public static Path resolveSource(Path source) {
    if (Files.exists(source)) return source;
    Path dir = source.toAbsolutePath().getParent();
    String name = source.getFileName() == null ? "" : source.getFileName().toString();
    if (dir != null && Files.isDirectory(dir)) {
      try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, name + ".*")) {
        for (Path p : ds) if (FrameSources.isVideoFile(p) && Files.isRegularFile(p)) return p;
      } catch (IOException | RuntimeException e) {
        // fall through to the plain "missing" error
      }
    }
    throw new ComixException("no such folder or video file: " + source);
  }

  private static void write(Path dir, Path target, byte[] encoded) {
    boolean created = false;
    if (!Files.isDirectory(dir)) {
      try {
        Files.createDirectories(dir);
        created = true;
      } catch (FileAlreadyExistsException e) {
        throw new ComixException("cannot create output folder " + dir + ": a file of that name is in the way");
      } catch (IOException e) {
        throw new ComixException("cannot create output folder " + dir + ": " + ImageFiles.ioReason(e));
      }
    }
    ImageFiles.deleteStaleTemps(target);
    try {
      ImageFiles.writeBytesAtomic(target, encoded);
    } catch (RuntimeException e) {
      if (created) {
        try {
          Files.deleteIfExists(dir); // only if still empty
        } catch (IOException ignored) {
          // not empty or not ours to remove
        }
      }
      throw e;
    }
  }

  static void checkName(String name) {
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0 || name.indexOf('\\') >= 0
        || name.indexOf('\0') >= 0)
      throw new ComixException("bad video name '" + name + "': it must be a plain folder name");
  }

  /** Test hook: -Dcomix.debug.videoDelayMs=N sleeps before each write, so a test can kill a run mid-way. */
  private static void debugDelay() {
    long ms = Long.getLong("comix.debug.videoDelayMs", 0);
    if (ms <= 0) return;
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

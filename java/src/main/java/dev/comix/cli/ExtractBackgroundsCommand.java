package dev.comix.cli;

import dev.comix.runtime.Backends;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.Device;
import dev.comix.runtime.Ops;
import dev.comix.video.BackgroundExtractor;
import dev.comix.video.FrameSources;
import dev.comix.video.ImageFiles;
import dev.comix.video.VideoInputs;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code comix extract-backgrounds}: the temporal median background of every video, written as
 * {@code <output>/<video>/0.JPEG} (COMIX-SPEC 3.1), resumable and safe to kill.
 */
@Command(
    name = "extract-backgrounds",
    mixinStandardHelpOptions = true,
    description = {
        "Computes each video's temporal median background (numpy.median semantics) and writes "
            + "<output>/<video>/0.JPEG, the layout the CoMix loader reads.",
        "Input: a folder of video folders (frame images sorted by name) and/or video files, a single video "
            + "(file or frame folder), or a split CSV with --base_dir (plain '<video>,<label>' or the Epic table).",
        "Videos already done are skipped, so a rerun after a kill resumes. Exit code: 0 all done, "
            + "1 some videos failed, 2 bad usage or input."},
    sortOptions = false)
final class ExtractBackgroundsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-i", "--input"}, required = true, paramLabel = "PATH",
      description = "Folder of video folders or video files, one video, or a split CSV (with --base_dir).")
  Path input;

  @Option(names = {"-o", "--output", "--output_dir"}, required = true, paramLabel = "DIR",
      description = "Output folder; each video gets <DIR>/<video>/0.JPEG.")
  Path output;

  @Option(names = {"--base_dir", "--base-dir"}, paramLabel = "DIR",
      description = "For a split CSV: the folder holding the video folders (Epic: the folders of video_id).")
  Path baseDir;

  @Option(names = {"-r", "--resolution"}, defaultValue = "224", paramLabel = "R",
      description = "Resize frames to R x R before the median (aspect ratio not kept; 0 = native size). Default: ${DEFAULT-VALUE}.")
  int resolution;

  @Option(names = "--device", paramLabel = "DEV",
      description = "cpu, cuda or cuda:N (default: COMIX_DEVICE, else CUDA if usable, else cpu).")
  String device;

  @Option(names = "--threads", paramLabel = "N",
      description = "Videos decoded in parallel (default: the number of CPU threads).")
  Integer threads;

  @Option(names = {"-l", "--frame_limit", "--frame-limit"}, defaultValue = "-1", paramLabel = "N",
      description = "Use at most the first N frames of each video (-1 = all). Default: ${DEFAULT-VALUE}.")
  long frameLimit;

  @Option(names = "--format", defaultValue = "jpeg", paramLabel = "FMT",
      description = "jpeg (0.JPEG, quality 75 as PIL) or png (0.png, lossless). Default: ${DEFAULT-VALUE}.")
  String format;

  @Option(names = "--progress", defaultValue = "auto", paramLabel = "MODE",
      description = "auto, bar, lines or none (auto: a bar on a terminal, a line every 10 s otherwise).")
  String progress;

  @Option(names = "--verbose", description = "Print stack traces of errors and FFmpeg's own messages.")
  boolean verbose;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter errW = spec.commandLine().getErr();
    if (resolution < 0 || resolution > 16384) throw new ComixException("-r must be 0 (native size) or 1..16384, got " + resolution);
    int nThreads = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
    if (nThreads < 1 || nThreads > 1024) throw new ComixException("--threads must be 1..1024, got " + nThreads);
    if (frameLimit == 0 || frameLimit < -1) throw new ComixException("--frame_limit must be -1 (all) or >= 1, got " + frameLimit);
    ImageFiles.Format fmt = ImageFiles.Format.parse(format);
    Progress.Mode mode;
    try {
      mode = Progress.Mode.valueOf(progress.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ComixException("--progress must be auto, bar, lines or none, got '" + progress + "'");
    }

    Device dev = Backends.choose(device);
    VideoInputs.Inputs inputs = VideoInputs.resolve(input, baseDir, output);
    prepareOutput(output);

    int workers = Math.max(1, Math.min(nThreads, inputs.jobs().size()));
    int nativeThreads = Math.max(1, nThreads / workers);
    FrameSources.setNativeLogging(verbose);
    FrameSources.setDecodeThreads(nativeThreads);
    try (Ops ops = Backends.open(dev, nativeThreads)) {
      errW.println("comix: backend " + ops.describe());
      errW.println("comix: " + inputs.description() + " -> " + output + ", " + (resolution == 0 ? "native size" : resolution
          + "x" + resolution) + ", " + fmt.backgroundName + ", " + workers + " worker thread(s)");
      errW.flush();
      int total = inputs.jobs().size() + inputs.problems().size();
      BackgroundExtractor ex = new BackgroundExtractor(ops, resolution, frameLimit, fmt, workers);
      // Plain lines go to the same stream as errors, so they interleave in order.
      try (Progress bar = new Progress(System.err, "extract", total, mode, 10)) {
        errW.flush();
        for (String p : inputs.problems()) {
          bar.item(false, true);
          bar.println("comix: error: " + p);
        }
        bar.start();
        BackgroundExtractor.Summary s = ex.run(inputs.jobs(), output, new BackgroundExtractor.Listener() {
          @Override
          public void finished(BackgroundExtractor.Result r) {
            bar.item(r.outcome() == BackgroundExtractor.Outcome.SKIPPED, r.outcome() == BackgroundExtractor.Outcome.FAILED);
            for (String w : r.warnings()) bar.println("comix: warning: " + r.job().name() + ": " + w);
            if (r.outcome() == BackgroundExtractor.Outcome.FAILED) {
              bar.println("comix: error: " + r.job().name() + ": " + r.error());
              if (verbose && r.cause() != null) {
                synchronized (bar) {
                  r.cause().printStackTrace(System.err);
                }
              }
            }
          }

          @Override
          public void frames(long n) {
            bar.frames(n);
          }
        });
        bar.close();
        int failed = s.failed() + inputs.problems().size();
        out.println(String.format(Locale.ROOT,
            "extract-backgrounds: %d videos: %d done, %d skipped (already done), %d failed; %d frames in %s (%.1f frames/s)",
            total, s.done(), s.skipped(), failed, s.frames(), Progress.duration(s.seconds()),
            s.seconds() > 0 ? s.frames() / s.seconds() : 0.0));
        out.flush();
        return failed > 0 ? 1 : 0;
      }
    }
  }

  /** Creates the output folder and proves it writable before any video is decoded. */
  static void prepareOutput(Path output) {
    try {
      Files.createDirectories(output);
    } catch (FileAlreadyExistsException e) {
      throw new ComixException("cannot create output folder " + output + ": a file of that name is in the way");
    } catch (IOException e) {
      throw new ComixException("cannot create output folder " + output + ": " + reason(e));
    }
    try {
      Path probe = Files.createTempFile(output, ".comix-write-test", ".tmp");
      Files.delete(probe);
    } catch (IOException e) {
      throw new ComixException("output folder " + output + " is not writable: " + reason(e));
    }
  }

  private static String reason(IOException e) {
    if (e instanceof java.nio.file.AccessDeniedException) return "permission denied";
    if (e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null)
      return fse.getReason().toLowerCase(Locale.ROOT);
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}

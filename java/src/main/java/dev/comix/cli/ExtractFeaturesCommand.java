package dev.comix.cli;

import dev.comix.features.ClipSampling;
import dev.comix.features.FeatureExtractor;
import dev.comix.nn.InceptionI3d;
import dev.comix.nn.gpu.ConvPrecision;
import dev.comix.runtime.Backends;
import dev.comix.runtime.ComixException;
import dev.comix.runtime.Device;
import dev.comix.video.BackgroundExtractor;
import dev.comix.video.VideoInputs;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code comix extract-features}: I3D features of CoMix's 16 test-time clips (8 frames each, COMIX-SPEC
 * §2.1–2.2) for every video, one {@code <output>/<video>.npy} float32 [16, 1024] each; resumable.
 */
@Command(
    name = "extract-features",
    mixinStandardHelpOptions = true,
    description = {
        "Runs the I3D backbone (eval mode) on the 16 test-time clips x 8 frames of every video and writes "
            + "<output>/<video>.npy, float32 [16, 1024·width].",
        "Frames: all frames, resized to 224x224, x*2/255-1; videos under 72 frames have each frame repeated "
            + "ceil(72/T) times; clip starts 4i, i the first of each of 16 array_split groups of 0..T/4-3.",
        "Input as extract-backgrounds: a folder of video folders and/or video files, one video, or a split CSV "
            + "with --base_dir. Videos already done are skipped. Exit code: 0 all done, 1 some videos failed, 2 bad usage."},
    sortOptions = false)
final class ExtractFeaturesCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-w", "--weights"}, required = true, paramLabel = "FILE",
      description = "I3D weights: .pt (pytorch-i3d names, 'module.' prefix stripped) or .safetensors.")
  Path weights;

  @Option(names = {"-i", "--input"}, required = true, paramLabel = "PATH",
      description = "Folder of video folders or video files, one video, or a split CSV (with --base_dir).")
  Path input;

  @Option(names = {"-o", "--output", "--output_dir"}, required = true, paramLabel = "DIR",
      description = "Output folder; each video gets <DIR>/<video>.npy.")
  Path output;

  @Option(names = {"--base_dir", "--base-dir"}, paramLabel = "DIR",
      description = "For a split CSV: the folder holding the video folders.")
  Path baseDir;

  @Option(names = "--width", defaultValue = "1.0", paramLabel = "W",
      description = "Channel width multiplier of the I3D (1.0 = the real model). Default: ${DEFAULT-VALUE}.")
  double width;

  @Option(names = "--batch", paramLabel = "N",
      description = "Clips per forward, 1..256; clips of several videos share a forward (the features do not "
          + "depend on it). Default: 4 on the CPU, 64 on a GPU.")
  Integer batch;

  @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV",
      description = "cpu (oneDNN), cuda[:N] (cuDNN) or auto (CUDA when usable, else CPU; COMIX_DEVICE). "
          + "Default: ${DEFAULT-VALUE}.")
  String device;

  @Option(names = "--precision", defaultValue = "tf32", paramLabel = "P",
      description = "GPU precision: f32, tf32 (PyTorch's default for cuDNN convolutions) or bf16. "
          + "Default: ${DEFAULT-VALUE}.")
  String precision;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Device dev = Backends.choose(device);
    ConvPrecision prec;
    try {
      prec = ConvPrecision.valueOf(precision.trim().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ComixException("--precision must be f32, tf32 or bf16, got '" + precision + "'");
    }
    if (!(width > 0) || width > 4) throw new ComixException("--width must be in (0, 4], got " + width);
    InceptionI3d model = new InceptionI3d(width);
    model.loadWeights(weights);
    VideoInputs.Inputs inputs = VideoInputs.resolve(input, baseDir, output);
    ExtractBackgroundsCommand.prepareOutput(output);
    int clipsPerForward = batch != null ? batch : dev.isCuda() ? 64 : 4;
    FeatureExtractor ex = new FeatureExtractor(model, clipsPerForward, dev, prec);
    err.println("comix: " + inputs.description() + " -> " + output + ", I3D width " + width + " ("
        + model.featureSize() + " features), " + ClipSampling.CLIPS + " clips x " + ClipSampling.CLIP_LENGTH + " frames, on "
        + dev + (dev.isCuda() ? " (" + prec + ")" : "") + ", " + clipsPerForward + " clips per forward");
    err.flush();
    int[] counts = new int[3]; // done, skipped, failed
    counts[2] = inputs.problems().size();
    int total = inputs.jobs().size() + inputs.problems().size();
    long t0 = System.nanoTime();
    // the same progress line (items, rate, ETA) as extract-backgrounds; frames = clip frames through I3D
    try (Progress bar = new Progress(System.err, "features", total, Progress.Mode.AUTO, 10)) {
      for (String p : inputs.problems()) {
        bar.item(false, true);
        bar.println("comix: error: " + p);
      }
      bar.start();
      FeatureExtractor.Listener listener = new FeatureExtractor.Listener() {
        @Override
        public void done(BackgroundExtractor.Job job) {
          counts[0]++;
          bar.frames((long) ClipSampling.CLIPS * ClipSampling.CLIP_LENGTH);
          bar.item(false, false);
        }

        @Override
        public void skipped(BackgroundExtractor.Job job) {
          counts[1]++;
          bar.item(true, false);
        }

        @Override
        public void failed(BackgroundExtractor.Job job, RuntimeException e) {
          counts[2]++;
          bar.item(false, true);
          String msg = e instanceof ComixException ? e.getMessage() : e.getClass().getSimpleName() + ": " + e.getMessage();
          bar.println("comix: error: " + job.name() + ": " + msg);
          if (verbose) {
            synchronized (bar) {
              e.printStackTrace(System.err);
            }
          }
        }
      };
      try (FeatureExtractor.Batcher batcher = ex.batcher(output, listener)) {
        for (BackgroundExtractor.Job job : inputs.jobs()) batcher.add(job);
      }
    }
    int done = counts[0], skipped = counts[1], failed = counts[2];
    out.println(String.format(Locale.ROOT, "extract-features: %d videos: %d done, %d skipped (already done), %d failed in %.1f s",
        total, done, skipped, failed, (System.nanoTime() - t0) / 1e9));
    out.flush();
    return failed > 0 ? 1 : 0;
  }
}

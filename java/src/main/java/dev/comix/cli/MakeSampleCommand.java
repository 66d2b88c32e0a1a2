package dev.comix.cli;

import dev.comix.video.SyntheticSample;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code comix make-sample}: a small synthetic domain-shift video set, generated, nothing downloaded. */
@Command(
    name = "make-sample",
    mixinStandardHelpOptions = true,
    description = {
        "Generates a small synthetic domain-shift video set (seeded, deterministic): static textured backgrounds "
            + "(source: warm stripes, target: cool tiles) with shapes moving in a direction that is the class.",
        "Writes <output>/videos/<name>/ frame folders (JPEG for source, PNG for target), one MJPG AVI, and "
            + "<output>/splits/{source,target}_train.csv ('<name>,<label>', CRLF).",
        "Then: comix extract-backgrounds --input <output>/videos --output <output>/backgrounds"},
    sortOptions = false)
final class MakeSampleCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "Folder to write the sample into.")
  Path output;

  @Option(names = "--videos", defaultValue = "6", paramLabel = "N", description = "Number of videos (half source, half target). Default: ${DEFAULT-VALUE}.")
  int videos;

  @Option(names = "--frames", defaultValue = "32", paramLabel = "N", description = "Frames per video. Default: ${DEFAULT-VALUE}.")
  int frames;

  @Option(names = "--size", defaultValue = "160x120", paramLabel = "WxH", description = "Frame size. Default: ${DEFAULT-VALUE}.")
  String size;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "Random seed. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = "--no-avi", description = "Write every video as a frame folder (no MJPG AVI).")
  boolean noAvi;

  @Option(names = "--verbose", description = "Print stack traces of errors.")
  boolean verbose;

  @Override
  public Integer call() {
    String[] wh = size.toLowerCase(Locale.ROOT).split("x");
    int w, h;
    try {
      if (wh.length != 2) throw new NumberFormatException();
      w = Integer.parseInt(wh[0].strip());
      h = Integer.parseInt(wh[1].strip());
    } catch (NumberFormatException e) {
      throw new dev.comix.runtime.ComixException("--size must look like 160x120, got '" + size + "'");
    }
    long t0 = System.nanoTime();
    SyntheticSample.Sample s = SyntheticSample.generate(output, videos, frames, w, h, seed, !noAvi);
    PrintWriter out = spec.commandLine().getOut();
    long avi = s.videos().stream().filter(SyntheticSample.Video::aviFile).count();
    out.println(String.format(Locale.ROOT, "make-sample: %d videos (%d frame folders, %d AVI) of %d frames %dx%d in %s (%.1f s)",
        s.videos().size(), s.videos().size() - avi, avi, frames, w, h, output, (System.nanoTime() - t0) / 1e9));
    if (!noAvi && !s.aviWritten() && videos > 1)
      out.println("make-sample: OpenCV could not write an MJPG AVI here; all videos are frame folders");
    out.println("splits: " + s.sourceSplit() + ", " + s.targetSplit());
    out.println("next: comix extract-backgrounds --input " + s.videosDir() + " --output " + output.resolve("backgrounds"));
    out.flush();
    return 0;
  }
}

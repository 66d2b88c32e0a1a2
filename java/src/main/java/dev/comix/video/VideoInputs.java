package dev.comix.video;

import dev.comix.runtime.ComixException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns the {@code --input} of extract-backgrounds into a list of jobs:
 *
 * <ul>
 *   <li>a split CSV (.csv/.txt) with a base folder: one job per row (see {@link SplitCsv});
 *   <li>a folder whose entries are frame folders and/or video files: one job per entry, named
 *       after the folder, or the file without its extension (hidden entries and other files are
 *       ignored);
 *   <li>a folder that holds only frame images: that one video;
 *   <li>a single video file: that one video, named after the file without its extension.
 * </ul>
 *
 * Problems that concern the whole input (missing, unreadable, a malformed split line) throw;
 * problems of single entries (two entries with one name) are returned in {@link Inputs#problems}
 * so the run can go on with the rest.
 */
public final class VideoInputs {
  /** The jobs, in order, and per-entry problems (one line each). */
  public record Inputs(List<BackgroundExtractor.Job> jobs, List<String> problems, String description) {}

  private VideoInputs() {}

  public static Inputs resolve(Path input, Path baseDir) {
    return resolve(input, baseDir, null);
  }

  /**
   * As {@link #resolve(Path, Path)}; {@code output} (may be null), when it lies inside a scanned
   * input folder, is not taken for a video.
   */
  public static Inputs resolve(Path input, Path baseDir, Path output) {
    if (!Files.exists(input)) throw new ComixException("no such file or folder: " + input);
    if (Files.isRegularFile(input) && SplitCsv.looksLikeCsv(input)) {
      if (baseDir == null)
        throw new ComixException("split file " + input + " needs --base_dir, the folder that holds the video folders");
      if (!Files.isDirectory(baseDir)) throw new ComixException("base folder " + baseDir + " does not exist");
      return fromSplit(input, baseDir);
    }
    if (baseDir != null) throw new ComixException("--base_dir is only used with a split CSV as --input");
    if (Files.isRegularFile(input)) {
      String name = stem(input);
      return new Inputs(List.of(BackgroundExtractor.Job.of(name, input)), List.of(), "video file " + input);
    }
    if (!Files.isDirectory(input)) throw new ComixException(input + " is neither a folder, a video file nor a split CSV");
    return fromFolder(input, output);
  }

  private static Inputs fromSplit(Path csv, Path baseDir) {
    List<SplitCsv.Entry> rows = SplitCsv.read(csv);
    List<BackgroundExtractor.Job> jobs = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    Map<String, SplitCsv.Entry> seen = new HashMap<>();
    int duplicates = 0;
    for (SplitCsv.Entry e : rows) {
      SplitCsv.Entry before = seen.putIfAbsent(e.name(), e);
      if (before != null) {
        if (before.from() != e.from() || before.to() != e.to() || !before.folder().equals(e.folder()))
          problems.add(e.name() + ": split file " + csv + ", line " + e.line() + " repeats the name of line "
              + before.line() + " with other frames; line " + e.line() + " ignored");
        else duplicates++;
        continue;
      }
      jobs.add(new BackgroundExtractor.Job(e.name(), baseDir.resolve(e.folder()), e.from(), e.to()));
    }
    String d = "split " + csv + " (" + jobs.size() + " videos" + (duplicates > 0 ? ", " + duplicates + " repeated rows" : "")
        + ")";
    return new Inputs(jobs, problems, d);
  }

  private static Inputs fromFolder(Path dir, Path output) {
    Path skip = output == null ? null : output.toAbsolutePath().normalize();
    List<Path> folders = new ArrayList<>();
    List<Path> videos = new ArrayList<>();
    int images = 0;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        if (n.startsWith(".")) continue;
        if (skip != null && p.toAbsolutePath().normalize().equals(skip)) continue;
        if (Files.isDirectory(p)) folders.add(p);
        else if (FrameSources.isVideoFile(p)) videos.add(p);
        else if (FrameSources.isImageFile(p)) images++;
      }
    } catch (IOException e) {
      throw new ComixException("cannot list folder " + dir + ": " + ImageFiles.ioReason(e));
    }
    if (folders.isEmpty() && videos.isEmpty()) {
      if (images > 0) {
        Path abs = dir.toAbsolutePath().normalize();
        String name = abs.getFileName() == null ? "video" : abs.getFileName().toString();
        return new Inputs(List.of(BackgroundExtractor.Job.of(name, dir)), List.of(), "frame folder " + dir);
      }
      throw new ComixException("no videos in " + dir + " (expected folders of frames, video files or frame images)");
    }
    List<Path> all = new ArrayList<>(folders);
    all.addAll(videos);
    all.sort((a, b) -> FrameSources.compareCodePoints(a.getFileName().toString(), b.getFileName().toString()));
    List<BackgroundExtractor.Job> jobs = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    Map<String, Path> seen = new HashMap<>();
    for (Path p : all) {
      String name = Files.isDirectory(p) ? p.getFileName().toString() : stem(p);
      Path before = seen.putIfAbsent(name, p);
      if (before != null) {
        problems.add(name + ": both " + before + " and " + p + " would be written to the same output folder; "
            + p.getFileName() + " skipped");
        continue;
      }
      jobs.add(BackgroundExtractor.Job.of(name, p));
    }
    String d = "folder " + dir + " (" + folders.size() + " frame folder(s), " + videos.size() + " video file(s))";
    return new Inputs(jobs, problems, d);
  }

  static String stem(Path file) {
    String n = file.getFileName().toString();
    int dot = n.lastIndexOf('.');
    return dot > 0 ? n.substring(0, dot) : n;
  }
}

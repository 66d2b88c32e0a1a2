package dev.comix.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.comix.video.ImageFiles;
import dev.comix.video.SyntheticSample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 in the middle of extract-backgrounds, then a rerun: the outputs equal, byte for byte,
 * those of an uninterrupted run, and no partial or temporary file survives the rerun.
 */
class KillResumeTest {
  static final int VIDEOS = 24;
  @TempDir Path tmp;

  static List<Path> all(Path root) throws IOException {
    if (!Files.exists(root)) return List.of();
    try (Stream<Path> s = Files.walk(root)) {
      return s.filter(Files::isRegularFile).sorted().toList();
    }
  }

  static long outputs(Path root) throws IOException {
    return all(root).stream().filter(p -> p.getFileName().toString().equals("0.JPEG")).count();
  }

  private Process start(Path in, Path out, long delayMs, Path log) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"),
        "-Dcomix.debug.videoDelayMs=" + delayMs, "dev.comix.cli.Main", "extract-backgrounds", "--input", in.toString(),
        "--output", out.toString(), "-r", "64", "--device", "cpu", "--threads", "2", "--progress", "none"));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  @Test
  void killThenRerunEqualsUninterruptedRun() throws Exception {
    SyntheticSample.Sample s = SyntheticSample.generate(tmp.resolve("sample"), VIDEOS, 12, 96, 72, 42, true);
    Path in = s.videosDir();

    // Uninterrupted run, in this JVM.
    Path ref = tmp.resolve("ref");
    Cli.Run r = Cli.run("extract-backgrounds", "--input", in.toString(), "--output", ref.toString(), "-r", "64",
        "--device", "cpu", "--threads", "2", "--progress", "none");
    assertEquals(0, r.code(), r.toString());
    assertEquals(VIDEOS, outputs(ref));

    // A child JVM, slowed down so the kill lands mid-run, killed with SIGKILL.
    Path out = tmp.resolve("out");
    Path log = tmp.resolve("child.log");
    Process p = start(in, out, 120, log);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (outputs(out) < 4 && p.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
    long atKill = outputs(out);
    p.destroyForcibly(); // SIGKILL: no shutdown hooks, no finally blocks
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(137, p.exitValue(), "child was not killed by SIGKILL: " + Files.readString(log));
    assertTrue(atKill >= 4 && atKill < VIDEOS, "kill did not land mid-run (" + atKill + " outputs): " + Files.readString(log));

    // Whatever is there is complete: every 0.JPEG equals the reference; nothing else but hidden temps.
    for (Path f : all(out)) {
      if (ImageFiles.isTempFile(f)) continue;
      assertEquals("0.JPEG", f.getFileName().toString(), f.toString());
      assertArrayEquals(Files.readAllBytes(ref.resolve(out.relativize(f))), Files.readAllBytes(f), f.toString());
    }

    // Rerun (a fresh child JVM): resumes, skipping what is done.
    Process again = start(in, out, 0, log);
    assertTrue(again.waitFor(120, TimeUnit.SECONDS));
    String text = Files.readString(log);
    assertEquals(0, again.exitValue(), text);
    java.util.regex.Matcher m = java.util.regex.Pattern
        .compile(VIDEOS + " videos: (\\d+) done, (\\d+) skipped \\(already done\\), 0 failed").matcher(text);
    assertTrue(m.find(), text);
    assertTrue(Integer.parseInt(m.group(2)) >= atKill, text);
    assertEquals(VIDEOS, Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2)), text);
    List<Path> got = all(out), want = all(ref);
    assertEquals(want.stream().map(ref::relativize).toList(), got.stream().map(out::relativize).toList(),
        "files after the rerun (temp files must be gone)");
    for (Path f : want) assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(out.resolve(ref.relativize(f))), f.toString());
  }
}

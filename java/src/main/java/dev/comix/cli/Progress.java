package dev.comix.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Progress of a run over many items, on stderr: a one-line bar redrawn in place (rate and ETA)
 * when stderr is a terminal, else a plain line every {@code lineSeconds}. Messages (errors,
 * warnings) printed through {@link #println} never tangle with the bar. Thread-safe.
 */
final class Progress implements AutoCloseable {
  enum Mode { AUTO, BAR, LINES, NONE }

  private final PrintStream err;
  private final String label;
  private final int total;
  private final Mode mode;
  private final long lineNanos;
  private final long t0 = System.nanoTime();
  private final AtomicInteger finished = new AtomicInteger();
  private final AtomicInteger skipped = new AtomicInteger();
  private final AtomicInteger failed = new AtomicInteger();
  private final AtomicLong frames = new AtomicLong();
  private ScheduledExecutorService ticker;
  private boolean barShown;
  private boolean closed;
  private long lastLine;

  Progress(PrintStream err, String label, int total, Mode mode, double lineSeconds) {
    this.err = err;
    this.label = label;
    this.total = total;
    this.mode = mode == Mode.AUTO ? (stderrIsTerminal() ? Mode.BAR : Mode.LINES) : mode;
    this.lineNanos = (long) (lineSeconds * 1e9);
    this.lastLine = t0;
  }

  Mode mode() {
    return mode;
  }

  void start() {
    if (mode == Mode.NONE) return;
    ticker = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "comix-progress");
      t.setDaemon(true);
      return t;
    });
    long period = mode == Mode.BAR ? 200 : 1000;
    ticker.scheduleAtFixedRate(this::tick, period, period, TimeUnit.MILLISECONDS);
  }

  void item(boolean wasSkipped, boolean wasFailed) {
    finished.incrementAndGet();
    if (wasSkipped) skipped.incrementAndGet();
    if (wasFailed) failed.incrementAndGet();
  }

  void frames(long n) {
    frames.addAndGet(n);
  }

  /** Prints a whole line (an error or a warning) above the bar. */
  synchronized void println(String line) {
    clearBar();
    err.println(line);
    err.flush();
    if (mode == Mode.BAR) drawBar();
  }

  private synchronized void tick() {
    if (mode == Mode.BAR) {
      drawBar();
    } else if (mode == Mode.LINES) {
      long now = System.nanoTime();
      if (now - lastLine >= lineNanos && finished.get() < total) {
        lastLine = now;
        err.println("comix: " + status(false));
        err.flush();
      }
    }
  }

  private void drawBar() {
    int width = 24;
    int done = finished.get();
    int filled = total == 0 ? width : (int) ((long) done * width / total);
    String bar = "#".repeat(filled) + ".".repeat(width - filled);
    err.print("\r" + label + " [" + bar + "] " + status(true) + "\033[K");
    err.flush();
    barShown = true;
  }

  private void clearBar() {
    if (barShown) {
      err.print("\r\033[K");
      barShown = false;
    }
  }

  /** "12/100 (12%) 3.4 videos/s 120 frames/s ETA 0:26 2 failed" */
  String status(boolean compact) {
    int done = finished.get(), skip = skipped.get(), fail = failed.get();
    double secs = (System.nanoTime() - t0) / 1e9;
    int worked = done - skip;
    double rate = secs > 0 ? worked / secs : 0;
    StringBuilder sb = new StringBuilder();
    sb.append(done).append('/').append(total);
    sb.append(String.format(Locale.ROOT, " (%d%%)", total == 0 ? 100 : (int) (100L * done / total)));
    sb.append(String.format(Locale.ROOT, " %.1f videos/s, %.0f frames/s", rate, secs > 0 ? frames.get() / secs : 0));
    int left = total - done;
    if (left > 0 && rate > 0) sb.append(", ETA ").append(duration(left / rate));
    else if (left > 0) sb.append(", ETA --");
    if (skip > 0) sb.append(", ").append(skip).append(" skipped");
    if (fail > 0) sb.append(", ").append(fail).append(" failed");
    if (!compact) sb.append(", ").append(duration(secs)).append(" elapsed");
    return sb.toString();
  }

  static String duration(double seconds) {
    long s = Math.round(seconds);
    if (seconds < 10) return String.format(Locale.ROOT, "%.1fs", seconds);
    if (s < 60) return s + "s";
    if (s < 3600) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    return String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, (s / 60) % 60, s % 60);
  }

  @Override
  public synchronized void close() {
    if (closed) return;
    closed = true;
    if (ticker != null) ticker.shutdownNow();
    ticker = null;
    if (mode == Mode.BAR) {
      drawBar();
      err.println();
      barShown = false;
      err.flush();
    }
  }

  /** Linux: fd 2 links to a tty device; elsewhere fall back to System.console(). TERM=dumb: no bar. */
  static boolean stderrIsTerminal() {
    if ("dumb".equals(System.getenv("TERM"))) return false;
    try {
      Path fd2 = Path.of("/proc/self/fd/2");
      if (Files.exists(fd2, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
        String target = Files.readSymbolicLink(fd2).toString();
        return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty") || target.equals("/dev/console");
      }
    } catch (Exception e) {
      // fall through
    }
    return System.console() != null;
  }
}

package dev.comix.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/** Runs the CLI in this JVM with stdout and stderr captured. */
final class Cli {
  record Run(int code, String out, String err) {
    List<String> errLines() {
      return Arrays.stream(err.split("\n")).filter(l -> !l.isBlank()).toList();
    }

    List<String> errorLines() {
      return errLines().stream().filter(l -> l.startsWith("comix: error: ")).toList();
    }

    boolean hasStackTrace() {
      return err.contains("\tat ") || err.contains("Exception in thread");
    }

    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout\n" + out + "--- stderr\n" + err;
    }
  }

  private Cli() {}

  static synchronized Run run(String... args) {
    PrintStream oldOut = System.out, oldErr = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
         PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
      System.setOut(o);
      System.setErr(e);
      int code = Main.run(args);
      o.flush();
      e.flush();
      return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }
}

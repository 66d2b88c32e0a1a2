package dev.comix.cli;

import dev.comix.runtime.ComixException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the comix command line. */
@Command(
    name = "comix",
    mixinStandardHelpOptions = true,
    versionProvider = VersionProvider.class,
    description = "CoMix video domain adaptation on the JVM: CUDA kernels, cuDNN and native CPU code.",
    subcommands = {InfoCommand.class, MakeSampleCommand.class, ExtractBackgroundsCommand.class, OpCommand.class,
        WeightsCommand.class,
        ExtractFeaturesCommand.class,
        CommandLine.HelpCommand.class})
public final class Main {
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns the exit code (tests call this). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      boolean verbose = parsed.hasMatchedOption("--verbose");
      String msg = ex instanceof ComixException ? ex.getMessage() : ex.getClass().getSimpleName() + ": " + ex.getMessage();
      cmd.getErr().println("comix: error: " + msg);
      if (verbose || !(ex instanceof ComixException)) ex.printStackTrace(cmd.getErr());
      return 2;
    });
    return cl.execute(args);
  }
}
